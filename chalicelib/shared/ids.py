"""Identifiers, from one generator. Time-sortable ids put the creation instant first
(milliseconds, base 36, fixed width) so a range key of them sorts by time; the rest is random."""

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


def sortable_id(prefix: str, now: datetime, random_bytes: int = 5) -> str:
    """`{prefix}-{9 chars of time}{2 × random_bytes hex}`."""
    millis = int(now.timestamp() * 1000)
    return f"{prefix}-{_base36(millis, 9)}{secrets.token_hex(random_bytes)}"


def time_bound(prefix: str, at: datetime, upper: bool = False) -> str:
    """The smallest (or with `upper`, beyond the largest) sortable id of `prefix` made at `at`:
    bounds of a range-key condition on time."""
    millis = max(0, int(at.timestamp() * 1000))
    return f"{prefix}-{_base36(millis, 9)}" + ("~" if upper else "")


def compact_id(prefix: str, now: datetime) -> str:
    """A time-sortable id of at most 20 characters (an OCPP idTag is CiString20)."""
    millis = int(now.timestamp() * 1000)
    return f"{prefix}{_base36(millis, 9)}{secrets.token_hex(5)}"[:20]


def message_id() -> str:
    """A unique id for a message parkcharge sends (an OCPP call's id: at most 36 characters)."""
    return secrets.token_hex(8)
