"""Money is an integer number of fen (分). Never a float."""

from __future__ import annotations

from chalicelib.shared.validation import is_whole


def require_fen(value: object, field: str = "amount_fen") -> int:
    """An amount from outside: an int (not bool, not float), not negative."""
    if not is_whole(value):
        raise ValueError(f"{field} must be an integer number of fen")
    if value < 0:
        raise ValueError(f"{field} must not be negative")
    return value


def format_yuan(fen: int) -> str:
    """900 -> '9.00'; for display texts only."""
    sign = "-" if fen < 0 else ""
    yuan, cents = divmod(abs(fen), 100)
    return f"{sign}{yuan}.{cents:02d}"
