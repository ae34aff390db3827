"""Identifiers. Time-sortable ids put the creation instant first (milliseconds, base 36, fixed
width) so a range key of them sorts by time; the rest is random."""

from __future__ import annotations

import secrets
from datetime import datetime

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(value: int, width: int) -> str:
    out = []
    for _ in range(width):
        value, digit = divmod(value, 36)
        out.append(_ALPHABET[digit])
    return "".join(reversed(out))


def sortable_id(prefix: str, now: datetime) -> str:
    millis = int(now.timestamp() * 1000)
    return f"{prefix}-{_base36(millis, 9)}{secrets.token_hex(5)}"


def random_id(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(10)}"
