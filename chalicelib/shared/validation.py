"""Small checks of values that come from outside, each written once. They raise Invalid with a
message and code a client can act on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.shared.errors import Invalid


def is_whole(value: object) -> TypeGuard[int]:
    """An integer that is not a bool (JSON true is not 1 fen)."""
    return isinstance(value, int) and not isinstance(value, bool)


def whole(value: Any, name: str, low: int, high: int) -> int:
    if not is_whole(value) or not low <= value <= high:
        raise Invalid(f"{name} must be a whole number from {low} to {high}", f"invalid_{name}")
    return int(value)


def text(value: Any, name: str, max_len: int = 80) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > max_len or "\x00" in value:
        raise Invalid(f"{name} is required (text, at most {max_len} characters)", f"invalid_{name}")
    return value.strip()


def zone(name: Any) -> ZoneInfo:
    """An IANA time zone such as Asia/Shanghai."""
    try:
        if not isinstance(name, str) or not name or len(name) > 64:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise Invalid("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc


EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def instant_in_range(value: datetime, name: str) -> datetime:
    """A time a stay, a session or a reading can have: from 2000 to 2200 (so adding a stay to it
    never leaves the calendar)."""
    if not EARLIEST <= value < LATEST:
        raise Invalid(f"{name} must be between {EARLIEST.year} and {LATEST.year}", "invalid_time")
    return value.astimezone(UTC)
