"""Constrained value types for the typed edges (msgspec annotations): each bound written once,
and the same bound appears in the OpenAPI document. Integers are whole JSON numbers only (no
floats, no bools: JSON true is not 1 fen)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec

MAX_FEN = 100_000_000  # one million yuan: far above any bill, far below an overflow

Fen = Annotated[int, msgspec.Meta(ge=0, le=MAX_FEN, description="money in fen (1/100 yuan)")]
PositiveFen = Annotated[int, msgspec.Meta(ge=1, le=MAX_FEN, description="money in fen (1/100 yuan)")]
Count = Annotated[int, msgspec.Meta(ge=0)]
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128, pattern=r"\S")]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=80, pattern=r"\S")]
ShortText = Annotated[str, msgspec.Meta(max_length=80)]
Plate = Annotated[str, msgspec.Meta(min_length=1, max_length=32, description="a plate number, e.g. 粤B12345")]
Zone = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, description="an IANA zone, e.g. Asia/Shanghai")
]
Instant = Annotated[datetime, msgspec.Meta(tz=True, description="ISO 8601 with a UTC offset or Z")]
Version = Annotated[int, msgspec.Meta(ge=1, le=999_999_999)]
Timestamp = Annotated[str, msgspec.Meta(description="UTC ISO 8601, e.g. 2026-11-01T08:00:00Z")]
