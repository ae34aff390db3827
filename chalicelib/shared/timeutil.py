"""UTC instants in and out of text. Pure helpers; the clock is read by callers only."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(value: datetime) -> str:
    """An aware datetime as UTC ISO 8601 with a Z, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    """ISO 8601 with an offset or Z; a naive time is refused (no guessing of zones)."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        raise ValueError("time needs a UTC offset or Z")
    return value.astimezone(UTC)


def iso_or_none(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def clock_minutes(text: object) -> int:
    """A time of day "HH:MM" (00:00 to 24:00) as minutes after midnight; ValueError with the
    reason otherwise."""
    if (
        not isinstance(text, str)
        or len(text) != 5
        or text[2] != ":"
        or not (text[:2] + text[3:]).isascii()
        or not (text[:2] + text[3:]).isdigit()
    ):
        raise ValueError("must be HH:MM")
    hours, minutes = int(text[:2]), int(text[3:])
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError("must be a time of day between 00:00 and 24:00")
    return hours * 60 + minutes
