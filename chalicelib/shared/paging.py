"""Paged listings: an opaque cursor carries DynamoDB's last evaluated key from one page to the
next. A cursor is checked before use (its partition must be the one being listed, every value a
plain string or number key), so a forged one is a 400, never a crash or another's partition."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any, TypeVar

from chalicelib.shared.errors import Invalid

T = TypeVar("T")
MAX_CURSOR = 2048


def _bad() -> Invalid:
    return Invalid("cursor is not one this listing gave out", "invalid_cursor")


def encode(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    raw = json.dumps(key, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str | None, partition: tuple[str, str]) -> dict[str, Any] | None:
    """The key to start after, from a cursor; `partition` = (hash attribute, value) being listed."""
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR:
        raise _bad()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise _bad() from exc
    if not isinstance(key, dict) or not key or len(key) > 4:
        raise _bad()
    for name, value in key.items():
        if not (
            isinstance(name, str)
            and isinstance(value, dict)
            and len(value) == 1
            and next(iter(value)) in ("S", "N")
            and isinstance(next(iter(value.values())), str)
        ):
            raise _bad()
    attribute, expected = partition
    if key.get(attribute) != {"S": expected}:
        raise _bad()
    return key


def page(results: Any, limit: int) -> tuple[list[Any], str | None]:
    """Up to `limit` items of a PynamoDB query made with `limit=limit`, and the next cursor
    (None on the last page)."""
    items: list[Any] = []
    iterator: Iterator[Any] = iter(results)
    for item in iterator:
        items.append(item)
        if len(items) >= limit:
            break
    return items, encode(results.last_evaluated_key)
