"""The ledger's pure rules: every posting balances in integer fen, payments are never dropped,
a closed visit's account ends at zero, a session's hold is released into exactly what it held,
and the invariant check sees a breach when the books do not add up."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.ledger.domain import invariants
from chalicelib.ledger.domain import postings as p

AT = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
fen = st.integers(min_value=0, max_value=10_000_000)


def test_lines_must_balance_and_be_integer_fen() -> None:
    with pytest.raises(p.Unbalanced):
        p.lines_of([("wallet:u", 100), ("session_hold:s", -99)])
    with pytest.raises(p.Unbalanced):
        p.lines_of([("wallet:u", 1.5), ("session_hold:s", -1.5)])  # type: ignore[list-item]
    with pytest.raises(p.Unbalanced):
        p.lines_of([("wallet:u", True), ("session_hold:s", -1)])
    assert p.lines_of([("a", 5), ("b", -5), ("a", -5), ("b", 5)]) == ()


@given(amount=fen, owed=fen)
def test_a_payment_is_split_never_dropped(amount: int, owed: int) -> None:
    split = p.split_payment(amount, owed)
    assert split.applied_fen + split.excess_fen == amount
    assert 0 <= split.applied_fen <= owed
    posting = p.parking_payment(
        "p-1",
        provider="sandbox",
        lot_id="L",
        operator_id="op",
        visit_id="v",
        split=split,
        at=AT,
        on_time=True,
    )
    if amount:
        assert posting is not None and sum(line.amount_fen for line in posting.lines) == 0
        assert posting.amount_on(p.provider_clearing("sandbox")) == amount


@given(total=fen, discount=fen, payments=st.lists(fen, max_size=4))
def test_a_closed_visit_keeps_nothing_beyond_its_fee(total: int, discount: int, payments: list[int]) -> None:
    journal = []
    paid = 0
    for n, amount in enumerate(payments):
        owed = max(0, total - min(discount, total) - paid)
        split = p.split_payment(amount, owed)
        paid += split.applied_fen
        posting = p.parking_payment(
            f"p-{n}",
            provider="sandbox",
            lot_id="L",
            operator_id="op",
            visit_id="v",
            split=split,
            at=AT,
            on_time=False,
        )
        journal += [posting] if posting else []
    closed = p.visit_closed(
        "v", lot_id="L", operator_id="op", total_fen=total, discount_fen=discount, paid_fen=paid, at=AT
    )
    journal += [closed] if closed else []
    totals = p.balances(journal)
    net = total - min(discount, total)
    assert totals.get(p.visit("v"), 0) == net - paid >= 0  # still owed, never a credit kept
    assert sum(totals.values()) == 0
    assert -totals.get(p.refunds_payable("visit:v"), 0) == sum(payments) - paid


@given(prepaid=st.integers(1, 10_000_000), total=fen)
def test_a_hold_is_released_into_exactly_what_it_held(prepaid: int, total: int) -> None:
    hold = p.prepay_hold("s", user_id="u", station_id="st", operator_id="op", amount_fen=prepaid, at=AT)
    release = p.hold_released(
        "s",
        user_id="u",
        station_id="st",
        operator_id="op",
        prepaid_fen=prepaid,
        total_fen=total,
        at=AT,
        reason="x",
    )
    assert hold is not None and release is not None and release.posting_id == "release:s"
    totals = p.balances([hold, release])
    assert totals.get(p.session_hold("s"), 0) == 0
    assert -totals.get(p.wallet("u"), 0) == -total  # the wallet paid exactly the total
    assert -totals.get(p.revenue("op", "charging"), 0) == total


def test_the_check_sees_broken_books() -> None:
    top_up = p.wallet_top_up("t", user_id="u", source=p.opening("demo"), amount_fen=1000, at=AT)
    assert top_up is not None
    assert invariants.check([top_up], wallets=[invariants.WalletFact("u", 1000)]) == []
    [breach] = invariants.check([top_up], wallets=[invariants.WalletFact("u", 1300)])
    assert breach.rule == "wallet_mismatch"
    unbalanced = p.Posting("x", "k", AT, "lot:L", "visit:v", "op", (p.Line("visit:v", 5),))
    rules = {b.rule for b in invariants.check([unbalanced])}
    assert rules == {"posting_unbalanced", "journal_unbalanced"}
    [missing] = invariants.check([], payments=[invariants.PaymentFact("p-1", "sandbox", 250)])
    assert missing.rule == "payment_not_booked"
    kept = invariants.check([], visits=[invariants.VisitFact("v", "exited", 0, 250)])
    assert [b.rule for b in kept] == ["visit_obligation_mismatch"]


@given(amount=st.integers(1, 1_000_000), obligation=fen)
def test_a_parking_refund_settles_the_obligation_first_then_the_operators_revenue(
    amount: int, obligation: int
) -> None:
    posting = p.parking_refund(
        "rf-1",
        payment_id="p-1",
        provider="sandbox",
        lot_id="lot",
        operator_id="op",
        visit_id="v-1",
        amount_fen=amount,
        from_obligation_fen=obligation,
        at=AT,
    )
    assert posting is not None and posting.posting_id == "refund:rf-1" and posting.kind == "refund"
    assert sum(line.amount_fen for line in posting.lines) == 0
    assert posting.amount_on(p.provider_clearing("sandbox")) == -amount
    settled = min(amount, obligation)
    assert posting.amount_on(p.refunds_payable(p.visit_subject("v-1"))) == settled
    assert posting.amount_on(p.refunds("op", "parking")) == amount - settled


def test_a_charging_refund_goes_back_to_the_wallet_and_the_check_sees_what_it_returned() -> None:
    hold = p.prepay_hold("s1", user_id="u", station_id="st", operator_id="op", amount_fen=5000, at=AT)
    release = p.hold_released(
        "s1",
        user_id="u",
        station_id="st",
        operator_id="op",
        prepaid_fen=5000,
        total_fen=3800,
        at=AT,
        reason="x",
    )
    refund = p.charging_refund(
        "rf-1", session_id="s1", user_id="u", station_id="st", operator_id="op", amount_fen=3800, at=AT
    )
    assert refund is not None and refund.amount_on(p.wallet("u")) == -3800
    assert refund.amount_on(p.refunds("op", "charging")) == 3800
    journal = [x for x in (hold, release, refund) if x is not None]
    fact = invariants.SessionFact("s1", 5000, 5000, True, 0, 3800)
    assert invariants.check(journal, sessions=[fact]) == []
    again = p.charging_refund(
        "rf-2", session_id="s1", user_id="u", station_id="st", operator_id="op", amount_fen=1, at=AT
    )
    assert again is not None
    rules = {b.rule for b in invariants.check([*journal, again], sessions=[fact])}
    assert "session_refunds_more" in rules


def test_the_check_sees_a_payment_refunded_beyond_what_it_took() -> None:
    pay = p.parking_payment(
        "p-1",
        provider="sandbox",
        lot_id="lot",
        operator_id="op",
        visit_id="v-1",
        split=p.PaymentSplit(1000, 0),
        at=AT,
        on_time=True,
    )
    refund = p.parking_refund(
        "rf-1",
        payment_id="p-1",
        provider="sandbox",
        lot_id="lot",
        operator_id="op",
        visit_id="v-1",
        amount_fen=1200,
        from_obligation_fen=0,
        at=AT,
    )
    journal = [x for x in (pay, refund) if x is not None]
    fact = invariants.PaymentFact("p-1", "sandbox", 1000, 1200)
    assert {b.rule for b in invariants.check(journal, payments=[fact])} == {"payment_refunds_more"}
    fine = invariants.PaymentFact("p-1", "sandbox", 1000, 0)
    assert {b.rule for b in invariants.check([x for x in (pay,) if x], payments=[fine])} == set()
    mismatch = invariants.PaymentFact("p-1", "sandbox", 1000, 0)
    assert "payment_refund_mismatch" in {b.rule for b in invariants.check(journal, payments=[mismatch])}


@given(amount=st.integers(1, 1_000_000), rejected=st.booleans())
def test_a_withdrawal_leaves_the_wallet_once_and_ends_at_the_provider_or_back_in_the_wallet(
    amount: int, rejected: bool
) -> None:
    held = p.withdrawal_held("rf-1", user_id="u", amount_fen=amount, at=AT)
    end = (
        p.withdrawal_released("rf-1", user_id="u", amount_fen=amount, at=AT)
        if rejected
        else p.withdrawal_paid(
            "rf-1", payment_id="t-1", provider="wechat", user_id="u", amount_fen=amount, at=AT
        )
    )
    assert held is not None and end is not None
    totals = p.balances([held, end])
    assert totals.get(p.refunds_payable(p.withdrawal_subject("rf-1")), 0) == 0  # nothing left owed
    assert totals.get(p.wallet("u"), 0) == (0 if rejected else amount)  # the wallet paid it, or not
    assert totals.get(p.provider_clearing("wechat"), 0) == (0 if rejected else -amount)
    fact = invariants.PaymentFact("t-1", "wechat", amount, 0 if rejected else amount, booking_id="topup:t-1")
    top_up = p.wallet_top_up(
        "t-1", user_id="u", source=p.provider_clearing("wechat"), amount_fen=amount, at=AT
    )
    assert top_up is not None
    wallet_balance = amount if rejected else 0
    breaches = invariants.check(
        [top_up, held, end], wallets=[invariants.WalletFact("u", wallet_balance)], payments=[fact]
    )
    assert breaches == []


@given(fee=st.integers(min_value=1, max_value=1_000_000), paid=fen)
def test_arrears_paid_at_the_booth_leave_the_unpaid_visit_at_zero(fee: int, paid: int) -> None:
    paid = min(paid, fee - 1)  # an open-gate exit: it left owing fee - paid
    closed = p.visit_closed(
        "v1", lot_id="l", operator_id="op", total_fen=fee, discount_fen=0, paid_fen=paid, at=AT
    )
    owed = p.balance([closed] if closed else [], p.visit("v1")) - paid
    part = p.arrears_paid(
        "cash-1", provider="cash", lot_id="l", operator_id="op", visit_id="v1", amount_fen=owed, at=AT
    )
    assert part is not None and part.posting_id == "arrears-paid:v1" and part.kind == "arrears_paid"
    assert part.amount_on(p.provider_clearing("cash")) == owed
    assert p.balance([x for x in (closed, part) if x], p.visit("v1")) - paid == 0
