"""Parking rules the domain owns: the no-repeat carry holds across a cycle's visits, the charging
waiver never exceeds the fee (whether a session earns one is charging's rule: tests/unit/charging)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import gate
from chalicelib.parking.domain.gate import ClosedVisit, WaiverGrant

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


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
