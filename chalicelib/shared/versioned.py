"""Versioned records (tariffs of parking and of charging): hash key = the record's id, range key
`version` = 1, 2, ...; a version is never changed once written, editing writes the next one, and
two editors racing for the same next version get a clear conflict instead of a lost write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.shared.db import failed_condition, transaction
from chalicelib.shared.errors import Conflict, DomainError

V = TypeVar("V", bound=Model)


def latest(model: type[V], record_id: str, *, operator_id: str, missing: DomainError) -> V:
    """The newest version, only for its operator (anyone else's looks like a missing one)."""
    for item in model.query(record_id, scan_index_forward=False, limit=1, consistent_read=True):
        if getattr(item, "operator_id", None) == operator_id:
            return item
    raise missing


def _conflict() -> Conflict:
    return Conflict("someone else changed this record at the same time; try again", "version_conflict")


def write(item: V, also: Callable[[TransactWrite], object] | None = None) -> V:
    """Write a version that must not exist yet (the first, or the one after the latest read);
    `also` adds items to the same transaction (the change's audit entry)."""
    version_attribute: Any = type(item).version  # type: ignore[attr-defined]
    if also is None:
        try:
            item.save(condition=version_attribute.does_not_exist())
        except PutError as exc:
            raise _conflict() from exc
        return item
    try:
        with transaction() as tx:
            tx.save(item, condition=version_attribute.does_not_exist())
            also(tx)
    except TransactWriteError as exc:
        if failed_condition(exc, index=0):
            raise _conflict() from exc
        raise
    return item
