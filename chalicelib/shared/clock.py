"""The clock. Edges read it once per request or message and pass `now` down; domain code never
reads it."""

from __future__ import annotations

from datetime import UTC, datetime


def now() -> datetime:
    return datetime.now(UTC)
