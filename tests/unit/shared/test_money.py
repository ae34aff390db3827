"""Money is integer fen."""

from __future__ import annotations

import pytest

from chalicelib.shared.money import format_yuan, require_fen


def test_money_is_integer_fen() -> None:
    assert format_yuan(750) == "7.50" and format_yuan(5) == "0.05" and format_yuan(-120) == "-1.20"
    for bad in (7.5, True, "750", -1):
        with pytest.raises(ValueError):
            require_fen(bad)
