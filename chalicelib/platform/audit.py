"""The audit log (domain.md §2.1): who changed what, when, and the value before and after.

Every context records its configuration changes and manual staff actions here, as one more item
of the transaction that makes the change (`add`), so there is no change without its entry and no
entry for a change that did not happen. Read per operator (time-ordered, between two instants)
or per object, a page at a time.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.platform.models import AuditEntry, object_ref
from chalicelib.shared import paging
from chalicelib.shared.ids import sortable_id, time_bound
from chalicelib.shared.timeutil import iso

PREFIX = "au"
MAX_REASON = 500


def _plain(value: Any) -> Any:
    """What is stored: JSON values only (instants as ISO text, anything else as its text)."""
    if value is None:
        return None
    return json.loads(json.dumps(value, default=lambda v: iso(v) if isinstance(v, datetime) else str(v)))


def entry(
    who: str,
    operator_id: str,
    object_type: str,
    object_id: str,
    action: str,
    before: Any,
    after: Any,
    reason: str | None,
    now: datetime,
) -> AuditEntry:
    return AuditEntry(
        operator_id,
        sortable_id(PREFIX, now),
        object_ref=object_ref(operator_id, object_type, object_id),
        object_type=object_type,
        object_id=object_id,
        action=action,
        who=who,
        reason=reason[:MAX_REASON] if reason else None,
        before=_plain(before),
        after=_plain(after),
        at=now,
    )


def add(
    tx: TransactWrite,
    who: str,
    operator_id: str,
    object_type: str,
    object_id: str,
    action: str,
    before: Any,
    after: Any,
    reason: str | None,
    now: datetime,
) -> AuditEntry:
    """One item in the caller's transaction: the entry is written with the change or not at all."""
    item = entry(who, operator_id, object_type, object_id, action, before, after, reason, now)
    tx.save(item, condition=AuditEntry.entry_id.does_not_exist())
    return item


def query(
    operator_id: str,
    *,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[AuditEntry], str | None]:
    """An operator's entries, oldest first, one page; for one object when both its type and id
    are given; between `since` and `until` (inclusive) when given."""
    condition = None
    if since is not None or until is not None:
        low = time_bound(PREFIX, since) if since is not None else f"{PREFIX}-"
        high = time_bound(PREFIX, until, upper=True) if until is not None else f"{PREFIX}-~"
        condition = AuditEntry.entry_id.between(low, high)
    if object_type and object_id:
        ref = object_ref(operator_id, object_type, object_id)
        start = paging.decode(cursor, ("object_ref", ref))
        results = AuditEntry.by_object.query(
            ref, range_key_condition=condition, limit=limit, last_evaluated_key=start
        )
    else:
        start = paging.decode(cursor, ("operator_id", operator_id))
        results = AuditEntry.query(
            operator_id, range_key_condition=condition, limit=limit, last_evaluated_key=start
        )
    return paging.page(results, limit)


def view(item: AuditEntry) -> dict[str, Any]:
    return {
        "entry_id": item.entry_id,
        "at": iso(item.at),
        "who": item.who,
        "object_type": item.object_type,
        "object_id": item.object_id,
        "action": item.action,
        "reason": item.reason,
        "before": item.before,
        "after": item.after,
    }
