"""Pure gate rules: the grace window and exit decisions (plates, messages and money: their own files)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import gate, tariffs

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
GRACE = timedelta(minutes=15)
TARIFF = tariffs.parse({"kind": "duration", "free_minutes": 15, "unit_minutes": 60, "unit_fen": 300})
ZONE = UTC


def _exit(now: datetime, paid: int, paid_at: datetime | None, quoted: datetime | None) -> gate.ExitDecision:
    until = gate.fee_until(now, paid_at, quoted, GRACE)
    return gate.decide_exit("P", tariffs.price(TARIFF, T0, until, ZONE), paid, 0)


def test_exit_opens_when_paid_within_grace_and_owes_the_difference_after() -> None:
    quoted = T0 + timedelta(minutes=90)  # 2 started hours: 600
    paid_at = quoted + timedelta(minutes=2)
    in_grace = _exit(paid_at + timedelta(minutes=14), 600, paid_at, quoted)
    assert in_grace.open_gate and in_grace.due_fen == 0
    late = _exit(paid_at + timedelta(minutes=40), 600, paid_at, quoted)
    assert not late.open_gate and late.due_fen == 300 and late.display == ("P", "请缴费 3.00元")


@given(st.integers(0, 10_000), st.integers(0, 3000))
def test_due_is_never_negative(paid: int, minutes: int) -> None:
    decision = _exit(T0 + timedelta(minutes=minutes), paid, None, None)
    assert decision.due_fen == max(0, decision.fee.total_fen - paid)
    assert decision.open_gate == (decision.due_fen == 0)
