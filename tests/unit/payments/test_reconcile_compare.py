"""Reconciliation's comparison: a statement and a journal that agree give no difference; each
planted lost notification, amount change or statement gap gives exactly its difference."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.payments import reconcile
from chalicelib.payments.statements import StatementPayment

amounts = st.dictionaries(
    st.from_regex(r"p-[0-9a-z]{6}", fullmatch=True), st.integers(min_value=1, max_value=10**6), max_size=12
)


@settings(max_examples=40)
@given(day=amounts, data=st.data())
def test_exactly_the_planted_differences_are_listed(day: dict[str, int], data: st.DataObject) -> None:
    ids = sorted(day)
    lost = set(data.draw(st.lists(st.sampled_from(ids), unique=True) if ids else st.just([])))
    rest = [i for i in ids if i not in lost]
    changed = set(data.draw(st.lists(st.sampled_from(rest), unique=True) if rest else st.just([])))
    statement = [StatementPayment(i, f"t-{i}", day[i] + (7 if i in changed else 0)) for i in ids]
    journal = {i: (day[i], "demo-lot") for i in ids if i not in lost}
    found = reconcile.compare(statement, journal, lambda no: None)
    assert {(f.kind, f.out_trade_no) for f in found} == {
        *((reconcile.PROVIDER_ONLY, i) for i in lost),
        *((reconcile.AMOUNT_DIFFERS, i) for i in changed),
    }


def test_a_payment_booked_on_another_day_matches_and_one_missing_from_the_statement_is_listed() -> None:
    statement = [StatementPayment("p-late", "t-1", 900)]
    journal = {"p-gap": (500, "demo-lot")}
    found = reconcile.compare(statement, journal, {"p-late": (900, "demo-lot")}.get)
    assert [(f.kind, f.out_trade_no, f.journal_fen) for f in found] == [
        (reconcile.JOURNAL_ONLY, "p-gap", 500)
    ]
