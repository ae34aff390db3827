"""Charging rules the domain owns: the sweeper's moves follow the session transition table, and who
earns a parking waiver (the carry and the waiver's amount are parking's: tests/unit/parking)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.charging.domain import sessions as rules

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


def test_waiver_eligibility() -> None:
    waiver = {"lot_id": "demo-lot", "minutes": 120}
    assert rules.waiver_applies("粤B12345", 1, waiver)
    assert not rules.waiver_applies(None, 1, waiver)
    assert not rules.waiver_applies("粤B12345", 0, waiver)
    assert not rules.waiver_applies("粤B12345", 1, None)
    assert not rules.waiver_applies("粤B12345", 1, {"minutes": 120})
