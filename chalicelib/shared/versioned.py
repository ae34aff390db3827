"""Versioned records (tariffs of parking and of charging): hash key = the record's id, range key
`version` = 1, 2, ...; a version is never changed once written, editing writes the next one, and
two editors racing for the same next version get a clear conflict instead of a lost write."""

from __future__ import annotations

from typing import Any, TypeVar

from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.shared.errors import Conflict, DomainError

V = TypeVar("V", bound=Model)


def latest(model: type[V], record_id: str, *, operator_id: str, missing: DomainError) -> V:
    """The newest version, only for its operator (anyone else's looks like a missing one)."""
    for item in model.query(record_id, scan_index_forward=False, limit=1, consistent_read=True):
        if getattr(item, "operator_id", None) == operator_id:
            return item
    raise missing


def write(item: V) -> V:
    """Write a version that must not exist yet (the first, or the one after the latest read)."""
    version_attribute: Any = type(item).version  # type: ignore[attr-defined]
    try:
        item.save(condition=version_attribute.does_not_exist())
    except PutError as exc:
        raise Conflict(
            "someone else changed this record at the same time; try again", "version_conflict"
        ) from exc
    return item
