"""Money is integer fen."""

from __future__ import annotations

import pytest

from chalicelib.shared.money import format_yuan, require_fen


def test_money_is_integer_fen() -> None:
    assert format_yuan(750) == "7.50" and format_yuan(5) == "0.05" and format_yuan(-120) == "-1.20"
    for bad in (7.5, True, "750", -1):
        with pytest.raises(ValueError):
            require_fen(bad)


# Providers' yuan text <-> fen: exact both ways, never through a float.
from decimal import Decimal  # noqa: E402

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from chalicelib.shared.money import parse_yuan, yuan_text  # noqa: E402


@given(st.integers(min_value=0, max_value=10**14 - 1))
def test_yuan_text_and_fen_round_trip_exactly(fen: int) -> None:
    assert parse_yuan(yuan_text(fen)) == fen


@given(
    st.integers(min_value=0, max_value=10**12 - 1),
    st.sampled_from(["", ".{0}", ".{0}{1}"]),
    st.integers(0, 9),
    st.integers(0, 9),
)
def test_any_decimal_yuan_text_is_its_exact_fen(whole: int, shape: str, d1: int, d2: int) -> None:
    text = f"{whole}{shape.format(d1, d2)}"
    assert parse_yuan(text) == int(Decimal(text) * 100)


@given(st.text(max_size=16))
def test_text_that_is_not_plain_decimal_yuan_is_refused_or_exact(text: str) -> None:
    try:
        fen = parse_yuan(text)
    except ValueError:
        return
    assert Decimal(text) * 100 == fen and text.isascii() and "e" not in text.lower()


def test_yuan_text_refuses_what_is_not_fen() -> None:
    for bad in ("9.001", "-9.00", "1e3", " 9.00", "9.", ".5", "09.00", "9,00", "９", "NaN", "inf", ""):
        with pytest.raises(ValueError):
            parse_yuan(bad)
    for bad_fen in (-1, 9.5, True):
        with pytest.raises(ValueError):
            yuan_text(bad_fen)  # type: ignore[arg-type]
    assert parse_yuan("0") == 0 and parse_yuan("0.5") == 50 and parse_yuan("12.34") == 1234
