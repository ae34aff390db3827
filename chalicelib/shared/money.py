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


# Providers that speak yuan (Alipay's total_amount, statement files) write decimal text with at
# most two places: "9", "9.5", "9.50". Read as text, digit by digit, never through a float.
_MAX_YUAN_DIGITS = 12


def parse_yuan(text: object, field: str = "amount") -> int:
    """'9.50' -> 950 fen, exactly; anything else (signs, exponents, spaces, three places, a
    number that is not text) is a ValueError."""
    if not isinstance(text, str) or not text.isascii():
        raise ValueError(f"{field} must be decimal text such as 9.50")
    whole, dot, cents = text.partition(".")
    if (
        not whole.isdigit()
        or len(whole) > _MAX_YUAN_DIGITS
        or (len(whole) > 1 and whole[0] == "0")
        or (dot and not (cents.isdigit() and 1 <= len(cents) <= 2))
    ):
        raise ValueError(f"{field} must be decimal text such as 9.50, not {text[:20]!r}")
    return int(whole) * 100 + int(cents.ljust(2, "0") if dot else "0")


def yuan_text(fen: int) -> str:
    """900 -> '9.00': the text a provider reads as yuan (never negative, never a float)."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
        raise ValueError("an amount for a provider is a non-negative integer number of fen")
    return format_yuan(fen)
