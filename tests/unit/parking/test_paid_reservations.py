"""Paid reservations' money rules (docs/identities.md): the prepaid pays the visit's own fee first
and never more; the exit's due is fee − paid − discounts + arrears − prepaid used; the parts
posted (booked, used at the close, owed back) add up to what the provider took."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.domain import postings as p
from chalicelib.parking.domain import gate
from chalicelib.parking.domain import reservations as rules
from chalicelib.parking.domain.tariffs import Price

T0 = datetime(2026, 12, 1, tzinfo=UTC)
fen = st.integers(min_value=0, max_value=200_000)


@given(prepaid=fen, net=st.integers(min_value=-1000, max_value=200_000))
def test_the_prepaid_pays_the_own_fee_first_and_the_rest_goes_back(prepaid: int, net: int) -> None:
    used, back = rules.prepaid_split(prepaid, net)
    assert used + back == prepaid
    assert used == min(prepaid, max(0, net)) and back >= 0


@given(fee=fen, paid=fen, discount=fen, arrears=fen, prepaid=fen)
def test_the_exit_owes_the_fee_after_discounts_less_the_prepaid_plus_arrears(
    fee: int, paid: int, discount: int, arrears: int, prepaid: int
) -> None:
    decision = gate.decide_exit("X", Price(fee, False, 0, 0), paid, discount, arrears, prepaid)
    net = max(0, fee - discount)
    used, _ = rules.prepaid_split(prepaid, net)
    assert decision.due_fen == max(0, net - used + arrears - paid)
    assert decision.open_gate == (decision.due_fen == 0)
    if prepaid == 0:  # a car without a reservation pays what it paid before
        assert decision == gate.decide_exit("X", Price(fee, False, 0, 0), paid, discount, arrears)


@given(fee=fen, prepaid=fen, net=fen, how=st.sampled_from(["used", "cancelled", "no_show"]))
def test_what_the_provider_took_is_revenue_the_visits_or_owed_back_and_the_prepaid_ends_at_zero(
    fee: int, prepaid: int, net: int, how: str
) -> None:
    money = p.ReservationMoney("rv-1", "rp-1", "lot-1", "op-1", fee, prepaid)
    used = rules.prepaid_split(prepaid, net)[0] if how == "used" else 0
    journal = [
        x
        for x in (
            p.reservation_paid(money, provider="sandbox", at=T0),
            p.reservation_settled(
                money,
                how=how,
                at=T0,
                used_fen=used,
                visit_id="v-1" if how == "used" else None,
                refund_fee=how == "cancelled",
            ),
        )
        if x is not None
    ]
    totals = p.balances(journal)
    assert sum(totals.values()) == 0
    assert totals.get(p.reservation_prepaid("rv-1"), 0) == 0
    kept = -totals.get(p.revenue("op-1", "parking"), 0) - totals.get(p.refunds("op-1", "parking"), 0)
    owed_back = -totals.get(p.refunds_payable(p.reservation_subject("rv-1")), 0)
    to_visit = -totals.get(p.visit("v-1"), 0)
    assert totals.get(p.provider_clearing("sandbox"), 0) == fee + prepaid == kept + owed_back + to_visit
    assert kept == (0 if how == "cancelled" else fee)
    assert to_visit == used
