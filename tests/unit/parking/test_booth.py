"""Cash at the booth: what is handed over, kept and given back always adds up, whatever the
cashier types; a shift's totals are the sums of what its actions took."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import booth

fen = st.integers(min_value=0, max_value=1_000_000)


@given(due=fen, tendered=fen, amount=st.one_of(st.none(), fen))
def test_tendered_minus_change_is_what_is_kept_and_applied(
    due: int, tendered: int, amount: int | None
) -> None:
    try:
        taken = booth.take(due, tendered, amount)
    except booth.BadTender:
        kept = amount if amount is not None else min(tendered, due)
        assert kept == 0 or kept > tendered
        return
    assert taken.tendered_fen - taken.change_fen == taken.kept_fen
    assert taken.kept_fen == taken.applied_fen + taken.excess_fen
    assert 0 <= taken.applied_fen <= due and taken.change_fen >= 0 and taken.excess_fen >= 0
    if amount is None:
        assert taken.excess_fen == 0  # the booth keeps what is owed, never more
        assert taken.applied_fen == min(tendered, due)


def test_a_driver_handing_over_100_yuan_for_12_50_gets_87_50_back() -> None:
    taken = booth.take(1250, 10_000, None)
    assert (taken.kept_fen, taken.change_fen, taken.applied_fen) == (1250, 8750, 1250)


@pytest.mark.parametrize(("tendered", "amount"), [(None, None), (500, 600), (0, None)])
def test_amounts_that_make_no_cash_payment_are_refused(tendered: int | None, amount: int | None) -> None:
    with pytest.raises(booth.BadTender):
        booth.take(1000, tendered, amount)


@given(
    actions=st.lists(
        st.one_of(
            st.tuples(st.just("pay"), fen, fen, st.one_of(st.none(), fen)),
            st.tuples(st.just("release"), fen, fen, st.none()),
        ),
        max_size=20,
    )
)
def test_a_shifts_totals_are_the_sums_of_its_actions(actions: list[tuple[str, int, int, int | None]]) -> None:
    totals, kept, tendered, change, released, waived = booth.ShiftTotals(), 0, 0, 0, 0, 0
    counters: dict[str, int] = {}
    for kind, a, b, c in actions:
        before = totals
        if kind == "pay":
            try:
                taken = booth.take(a, b, c)
            except booth.BadTender:
                continue
            totals = totals.plus_payment(taken)
            kept, tendered, change = (
                kept + taken.kept_fen,
                tendered + taken.tendered_fen,
                change + taken.change_fen,
            )
        else:
            totals = totals.plus_release(a, b)
            released, waived = released + a, waived + b
        for name, delta in totals.minus(before).items():  # what the action adds to the stored counters
            counters[name] = counters.get(name, 0) + delta
    assert (totals.cash_fen, totals.tendered_fen, totals.change_fen) == (kept, tendered, change)
    assert (totals.release_cash_fen, totals.waived_fen) == (released, waived)
    assert totals.tendered_fen - totals.change_fen == totals.cash_fen
    assert totals.by_method() == {"cash": kept + released} and totals.total_cash_fen == kept + released
    assert booth.ShiftTotals(**{n: counters.get(n, 0) for n in booth.COUNTERS}) == totals


def test_above_the_threshold_needs_a_confirmation() -> None:
    assert not booth.needs_confirmation(50_000, None) and booth.needs_confirmation(50_001, None)
    assert booth.needs_confirmation(1001, 1000) and not booth.needs_confirmation(1000, 1000)


owed_fen = st.integers(min_value=1, max_value=1_000_000)


@given(owed=owed_fen, tendered=st.one_of(st.none(), fen), amount=st.one_of(st.none(), fen))
def test_arrears_at_the_booth_are_taken_whole_or_not_at_all(
    owed: int, tendered: int | None, amount: int | None
) -> None:
    try:
        taken = booth.take_arrears(owed, tendered, amount)
    except booth.ArrearsNotCovered:
        assert (amount if amount is not None else min(tendered or 0, owed)) < owed
        return
    except booth.BadTender:
        return
    assert taken.kept_fen == taken.applied_fen == owed and taken.excess_fen == 0
    assert taken.tendered_fen - taken.change_fen == owed and taken.change_fen >= 0


@given(owed=fen, carried=fen)
def test_an_open_gate_exit_owes_only_its_own_part_beside_the_arrears_it_carried(
    owed: int, carried: int
) -> None:
    from chalicelib.parking.domain.identities import own_arrears

    own = own_arrears(owed, carried)
    assert own >= 0 and own + min(owed, carried) == owed
