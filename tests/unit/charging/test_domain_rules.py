"""Rules the domain owns: the sweeper's moves follow the session transition table, the no-repeat
carry holds across a cycle's visits, the charging waiver never exceeds the fee."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.charging.domain import sessions as rules
from chalicelib.parking.domain import gate
from chalicelib.parking.domain.gate import ClosedVisit, WaiverGrant

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
minutes = st.integers(min_value=0, max_value=3 * 24 * 60)


@given(
    state=st.sampled_from(rules.STATES),
    age=minutes,
    quiet=minutes,
    started=st.one_of(st.none(), minutes),
    energy=st.integers(min_value=0, max_value=100_000),
    auto=st.booleans(),
)
def test_every_sweep_move_is_allowed_by_the_transition_table(
    state: str, age: int, quiet: int, started: int | None, energy: int, auto: bool
) -> None:
    now = T0 + timedelta(days=5)
    action = rules.sweep_action(
        state,
        created_at=now - timedelta(minutes=age),
        last_activity_at=now - timedelta(minutes=quiet),
        started_at=None if started is None else now - timedelta(minutes=started),
        energy_wh=energy,
        past_auto_stop=auto,
        now=now,
    )
    if action is not None:
        assert rules.can_move(state, rules.SWEEP_TARGETS[action]), (state, action)
    if state in (rules.COMPLETED, rules.ABNORMAL):
        assert action is None  # finished sessions are never swept


def test_sweep_examples() -> None:
    def act(state: str, **kw: object) -> str | None:
        base = {
            "created_at": T0,
            "last_activity_at": T0,
            "started_at": T0,
            "energy_wh": 10,
            "past_auto_stop": False,
            "now": T0,
        }
        return rules.sweep_action(state, **{**base, **kw})  # type: ignore[arg-type]

    assert act(rules.STARTING, now=T0 + timedelta(minutes=3)) == rules.ABANDON
    assert act(rules.STARTING, now=T0 + timedelta(minutes=2)) is None
    assert act(rules.CHARGING, now=T0 + timedelta(minutes=5)) == rules.SUSPEND
    assert act(rules.CHARGING, energy_wh=0, now=T0 + timedelta(seconds=90)) == rules.STOP_NO_ENERGY
    assert act(rules.CHARGING, past_auto_stop=True, now=T0 + timedelta(minutes=1)) == rules.STOP_AUTO
    assert act(rules.SUSPENDED, now=T0 + timedelta(hours=24)) == rules.MARK_ABNORMAL
    assert act(rules.SUSPENDED, now=T0 + timedelta(hours=23)) is None


def test_the_carry_sums_only_the_newest_visits_cycle() -> None:
    cycle, older = T0, T0 - timedelta(days=1)
    closed = [
        ClosedVisit("v-3", cycle, 200),
        ClosedVisit("v-2", cycle, 300),
        ClosedVisit("v-1", older, 900),  # an earlier cycle: not carried
    ]
    carry = gate.carry(closed)
    assert carry is not None and carry.cycle_start == cycle and carry.charged_fen == 500
    assert gate.carry([]) is None


@given(
    fee=st.integers(min_value=0, max_value=100_000),
    waived_minutes=st.integers(min_value=0, max_value=600),
    waived_fen=st.integers(min_value=0, max_value=100_000),
    stay=st.integers(min_value=1, max_value=2000),
)
def test_the_waiver_never_exceeds_the_fee_nor_goes_below_zero(
    fee: int, waived_minutes: int, waived_fen: int, stay: int
) -> None:
    until = T0 + timedelta(minutes=stay)

    def price_to(instant: datetime) -> int:  # a fee growing with the stay, capped at `fee`
        return min(fee, int((instant - T0).total_seconds() // 60) * 10)

    discount = gate.waiver_discount(WaiverGrant("s-1", waived_minutes, waived_fen), fee, T0, until, price_to)
    if waived_minutes == 0 and waived_fen == 0:
        assert discount is None
        return
    assert discount is not None and 0 <= discount["amount_fen"] <= fee
    assert isinstance(discount["amount_fen"], int)


def test_waiver_eligibility() -> None:
    waiver = {"lot_id": "demo-lot", "minutes": 120}
    assert rules.waiver_applies("粤B12345", 1, waiver)
    assert not rules.waiver_applies(None, 1, waiver)
    assert not rules.waiver_applies("粤B12345", 0, waiver)
    assert not rules.waiver_applies("粤B12345", 1, None)
    assert not rules.waiver_applies("粤B12345", 1, {"minutes": 120})
