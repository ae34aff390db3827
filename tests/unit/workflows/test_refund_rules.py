"""The refund rules: never above what was paid minus what is refunded or in flight, a sequence of
requests never adds up to more (the one that would is refused for the excess), which reviews the
policy asks for, and the states a refund moves through."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.shared.errors import Conflict, Invalid, Unprocessable
from chalicelib.workflows.domain import refunds as rules

fen = st.integers(min_value=0, max_value=1_000_000)


def subject(paid: int, refunded: int = 0, in_flight: int = 0) -> rules.Subject:
    return rules.Subject(rules.PARKING_PAYMENT, "p-1", "u-1", "op", paid, refunded, in_flight)


@given(paid=fen, refunded=fen, in_flight=fen)
def test_refundable_is_paid_minus_refunded_minus_in_flight_never_negative(
    paid: int, refunded: int, in_flight: int
) -> None:
    left = rules.refundable(paid, refunded, in_flight)
    assert left == max(0, paid - refunded - in_flight)
    assert 0 <= left <= paid


@given(paid=st.integers(min_value=1, max_value=100_000), asks=st.lists(st.integers(1, 50_000), max_size=12))
def test_requests_in_sequence_never_exceed_what_was_paid(paid: int, asks: list[int]) -> None:
    in_flight = 0
    for amount in asks:
        before = rules.refundable(paid, 0, in_flight)
        if amount > before:
            with pytest.raises(Unprocessable) as refused:
                rules.check_amount(subject(paid, 0, in_flight), amount)
            assert refused.value.code == "amount_too_high"
            assert f"at most {before} fen" in refused.value.message
        else:
            assert rules.check_amount(subject(paid, 0, in_flight), amount) == before - amount
            in_flight += amount
        assert in_flight <= paid


def test_two_requests_that_together_exceed_it_the_second_is_refused_for_the_excess() -> None:
    assert rules.check_amount(subject(3800), 3000) == 800
    with pytest.raises(Unprocessable, match="at most 800 fen"):
        rules.check_amount(subject(3800, in_flight=3000), 1000)
    assert rules.check_amount(subject(3800, in_flight=3000), 800) == 0


def test_nothing_refundable_and_bad_amounts_are_refused() -> None:
    with pytest.raises(Conflict) as nothing:
        rules.check_amount(rules.Subject(rules.CHARGING_SESSION, "s", "u", "op", 0, 0, 0, "not completed"), 1)
    assert nothing.value.code == "not_refundable"
    for bad in (0, -5, True):
        with pytest.raises(Invalid):
            rules.check_amount(subject(100), bad)


def test_a_session_is_refundable_only_completed_with_a_total_above_zero() -> None:
    assert rules.session_paid("completed", 3800, 5000) == 5000
    assert rules.session_paid("completed", 0, 5000) == 0
    assert rules.session_paid("charging", 3800, 5000) == 0
    assert rules.session_paid("abnormal", 3800, 5000) == 0
    # prepaid 5000, bill 3800: the unused 1200 went back at settlement (counted as refunded)
    assert rules.refundable(rules.session_paid("completed", 3800, 5000), 1200, 0) == 3800


def test_the_default_policy() -> None:
    policy = rules.DEFAULT_POLICY
    assert policy.levels(rules.DRIVER, 1) == (rules.CUSTOMER_SERVICE, rules.FINANCE)
    assert policy.levels(rules.COMPLAINT, 1) == (rules.FINANCE,)
    assert policy.levels(rules.OVERPAYMENT, 1_000_000) == ()


@given(threshold=fen, amount=st.integers(1, 2_000_000))
def test_finance_reviews_only_amounts_above_the_operators_threshold(threshold: int, amount: int) -> None:
    policy = rules.policy_from({"finance_above_fen": threshold})
    levels = policy.levels(rules.DRIVER, amount)
    assert levels[0] == rules.CUSTOMER_SERVICE
    assert (rules.FINANCE in levels) == (amount > threshold)
    assert policy.levels(rules.OVERPAYMENT, amount) == ()


def test_a_policy_with_unknown_origins_or_bad_amounts_is_refused() -> None:
    with pytest.raises(Invalid):
        rules.policy_from({"finance_for": ["nobody"]})
    with pytest.raises(Invalid):
        rules.policy_from({"finance_above_fen": -1})
    with pytest.raises(Invalid):
        rules.policy_from({"finance_above_fen": 1.5})
    assert rules.policy_from(None) == rules.DEFAULT_POLICY
    assert rules.policy_from(rules.DEFAULT_POLICY.as_dict()) == rules.DEFAULT_POLICY


def test_states() -> None:
    assert rules.move(rules.REQUESTED, rules.REVIEWING) == rules.REVIEWING
    assert rules.move(rules.REVIEWING, rules.PAYING) == rules.PAYING
    assert rules.move(rules.PAYING, rules.REFUNDED) == rules.REFUNDED
    assert rules.move(rules.PAYING, rules.FAILED) == rules.FAILED
    assert rules.move(rules.FAILED, rules.PAYING) == rules.PAYING  # finance retries
    assert rules.move(rules.REVIEWING, rules.REJECTED) == rules.REJECTED
    for final in rules.FINAL:
        for to in rules.STATES:
            assert not rules.can_move(final, to)
    with pytest.raises(Conflict):
        rules.move(rules.PAYING, rules.REJECTED)  # a refund being paid is not rejected any more
    with pytest.raises(Conflict):
        rules.move(rules.REVIEWING, rules.REFUNDED)  # never paid without the paying step


def test_what_the_requester_reads() -> None:
    assert "38.00 yuan has been paid back" in rules.notification_text(rules.REFUNDED, 3800, 3800)
    assert "declined: not our fault" in rules.notification_text(rules.REJECTED, 3800, 0, "not our fault")


@given(
    amount=st.integers(1, 100_000),
    balance=st.integers(0, 100_000),
    top_ups=st.lists(st.integers(0, 50_000), max_size=5),
)
def test_a_withdrawal_goes_back_through_the_newest_top_ups_never_beyond_them_or_the_balance(
    amount: int, balance: int, top_ups: list[int]
) -> None:
    named = [(f"t-{i}", left) for i, left in enumerate(top_ups)]
    possible = min(balance, sum(top_ups))
    if amount > possible:
        with pytest.raises(Unprocessable, match=f"at most {possible} fen"):
            rules.withdrawal_plan(amount, balance, named)
        return
    plan = rules.withdrawal_plan(amount, balance, named)
    assert sum(part for _, part in plan) == amount  # exactly the amount, in integer fen
    left = dict(named)
    assert all(0 < part <= left[top_up] for top_up, part in plan)
    # newest first: a top-up is used only once every newer one is used up
    used = [top_up for top_up, _ in plan]
    for top_up, part in plan[:-1]:
        assert part == left[top_up]
    assert used == sorted(used, key=lambda t: int(t.split("-")[1]))
