"""A stored-value card at the exit (docs/identities.md): the split between the card's balance and
what the car pays as a temporary car, and the entry that prices the card holder."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain.identities import CardSnap, CardType, Identity, Options

FEN = st.integers(min_value=0, max_value=10_000_000)


@given(balance=FEN, due=st.integers(min_value=-1000, max_value=10_000_000))
def test_the_balance_pays_all_of_the_fee_or_none_of_it_and_never_goes_below_zero(
    balance: int, due: int
) -> None:
    taken, rest = rules.balance_split(balance, due)
    assert taken + rest == max(0, due)
    assert 0 <= taken <= balance
    assert balance - taken >= 0
    assert taken in (0, max(0, due))
    assert (taken > 0) == (0 < due <= balance)


def test_a_stored_value_card_holder_enters_as_a_card_and_is_priced() -> None:
    types = {"sv": CardType("sv", "储值卡"), "own": CardType("own", "储值卡", tariff_id="t-card")}
    for type_id, tariff in (("sv", None), ("own", "t-card")):
        snap = CardSnap("c1", type_id, rules.STORED_VALUE, None, None, 1, ("粤S1",))
        entry = rules.resolve_entry(
            "粤S1", "entry-1", datetime(2026, 12, 1, tzinfo=UTC), Options(), Identity(card=snap), types
        )
        assert entry.kind == "card" and entry.stored_value and not entry.free
        assert entry.to_visit()["tariff_id"] == tariff and entry.to_visit()["stored_value"]


def test_the_books_check_compares_a_card_balance_with_its_postings() -> None:
    from chalicelib.ledger.domain import postings as p
    from chalicelib.ledger.domain.invariants import HeldFact, check

    at = datetime(2026, 12, 1, tzinfo=UTC)
    loaded = p.card_top_up("c1", "t1", lot_id="l", operator_id="o", amount_fen=300, source="cash", at=at)
    paid = p.held_payment(
        "card-v1", p.card_balance("c1"), lot_id="l", operator_id="o", visit_id="v1", amount_fen=250, at=at
    )
    journal = [x for x in (loaded, paid) if x is not None]
    assert check(journal, kept=[HeldFact(p.card_balance("c1"), 50)]) == []
    assert [b.rule for b in check(journal, kept=[HeldFact(p.card_balance("c1"), 300)])] == ["held_mismatch"]
    assert [b.rule for b in check(journal)] == ["held_missing"]
