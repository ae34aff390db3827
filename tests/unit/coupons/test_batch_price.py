"""The price of a batch a merchant buys: face value × quantity, in integer fen; coupons with no
face value in fen are not sold."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.coupons.domain.rules import CouponRuleError, Face, batch_price

quantities = st.integers(min_value=1, max_value=1_000_000)
fen = st.integers(min_value=1, max_value=100_000_000)


@settings(max_examples=50, deadline=None)
@given(value=fen, cap=fen, quantity=quantities)
def test_a_batch_costs_its_face_value_times_its_quantity(value: int, cap: int, quantity: int) -> None:
    amount = batch_price(Face("amount", value), quantity)
    release = batch_price(Face("release", 0, cap), quantity)
    assert (amount, release) == (value * quantity, cap * quantity)
    assert isinstance(amount, int) and isinstance(release, int)
    assert batch_price(Face("amount", value), quantity + 1) - amount == value


@pytest.mark.parametrize("face", [Face("time", 60), Face("percent", 20), Face("release", 0)])
def test_coupons_without_a_face_value_in_fen_are_not_sold(face: Face) -> None:
    with pytest.raises(CouponRuleError, match="the operator allocates the others"):
        batch_price(face, 10)
