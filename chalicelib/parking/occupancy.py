"""Live occupancy (free spaces) of a lot, kept in the same transaction as the change that moves
a car in or out, and published to the lot's guidance screens (docs/mqtt.md).

The count changes conditionally: never below 0, never above the lot's capacity. A transaction
whose only failed condition is that bound is made again without the count (the count stays at
the bound; the scheduled recount corrects it from the cars inside). The gate publishes a small
"changed" message after its commit (no extra DynamoDB call on the gate path); the IoT rule
lot_occupancy hands it to `publish_changed`, which reads the count and publishes the free
spaces on the lot's guidance topic. A burst of changes at a busy lot is coalesced within a
process: a notification arriving while that lot's count is being read and published makes the
running publisher read once more when it is done (a read that starts after the notification
arrived sees its change), instead of a read and a publish per notification.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.parking.models import Lot, Occupancy, Visit
from chalicelib.platform import topics
from chalicelib.platform.downlink import get_publisher
from chalicelib.shared.db import CONDITION_FAILED, cancellation_codes, transaction
from chalicelib.shared.timeutil import iso, iso_or_none

log = logging.getLogger(__name__)


def bounded(inside: int, delta: int, capacity: int) -> int:
    """The count after a change, kept within 0..capacity (what the conditional update keeps)."""
    after = inside + delta
    if after < 0 or after > capacity:
        return inside
    return after


def change(tx: TransactWrite, lot_id: str, capacity: int, delta: int, now: datetime) -> None:
    """One item in the caller's transaction: the lot's count moves by `delta` within its bounds."""
    if delta > 0:
        condition = Occupancy.inside.does_not_exist() | (Occupancy.inside <= capacity - delta)
    else:
        condition = Occupancy.inside >= -delta
    tx.update(
        Occupancy(lot_id),
        actions=[
            Occupancy.inside.add(delta),
            Occupancy.capacity.set(capacity),
            Occupancy.updated_at.set(now),
        ],
        condition=condition,
    )


def transact(
    lot_id: str,
    capacity: int,
    delta: int,
    now: datetime,
    write: Callable[[TransactWrite], object],
    first: Callable[[TransactWrite], object] | None = None,
) -> bool:
    """`first` (e.g. the inbox marker), the count's change, then `write`, in one transaction.
    True when the count changed. A lot without a capacity keeps no count."""
    tracked = delta != 0 and capacity > 0
    for with_count in (True, False) if tracked else (False,):
        tx = transaction()
        try:
            with tx:
                if first is not None:
                    first(tx)
                if with_count:
                    change(tx, lot_id, capacity, delta, now)
                write(tx)
        except TransactWriteError as error:
            index = _first_update_index(tx)
            codes = cancellation_codes(error)
            only_bound = (
                with_count
                and len(codes) > index
                and codes[index] == CONDITION_FAILED
                and codes.count(CONDITION_FAILED) == 1
            )
            if only_bound:
                continue
            raise
        return with_count
    return False


def _first_update_index(tx: TransactWrite) -> int:
    """Where the count's update sits in the request: DynamoDB reports cancellation reasons in the
    order PynamoDB sends the items (condition checks, deletes, puts, then updates), and the count
    is the transaction's first update."""
    before = ("_condition_check_items", "_delete_items", "_put_items")
    return sum(len(getattr(tx, name, ())) for name in before)


def notify(lot_id: str, now: datetime) -> None:
    """After a commit that moved the count: tell the guidance publisher (best effort: the recount
    publishes too)."""
    try:
        get_publisher().publish(topics.lot_changed(lot_id), {"lot_id": lot_id, "at": iso(now)})
    except Exception:
        log.warning("occupancy notification not published", extra={"lot_id": lot_id}, exc_info=True)


def view(lot_id: str) -> dict[str, Any]:
    try:
        item = Occupancy.get(lot_id, consistent_read=True)
    except Occupancy.DoesNotExist:
        item = None
    capacity = int(item.capacity) if item is not None else 0
    if item is None:
        try:
            capacity = int(Lot.get(lot_id).capacity)
        except Lot.DoesNotExist:
            capacity = 0
    inside = int(item.inside) if item is not None else 0
    return {
        "lot_id": lot_id,
        "capacity": capacity,
        "inside": inside,
        "free": max(0, capacity - inside),
        "updated_at": iso_or_none(item.updated_at) if item is not None else None,
        "recounted_at": iso_or_none(item.recounted_at) if item is not None else None,
    }


def publish_guidance(lot_id: str, now: datetime) -> dict[str, Any]:
    """The free spaces on the lot's guidance topic."""
    message = {**view(lot_id), "published_at": iso(now)}
    get_publisher().publish(topics.guidance(lot_id), message)
    return message


_publishing: dict[str, bool] = {}  # lot -> a notification arrived during the running publish
_publishing_lock = threading.Lock()


def publish_changed(lot_id: str, now: Callable[[], datetime]) -> dict[str, Any] | None:
    """The gate's "changed" notification: publish the lot's free spaces, or leave it to this
    process's publisher already running for the lot (None), which then reads again."""
    with _publishing_lock:
        if lot_id in _publishing:
            _publishing[lot_id] = True
            return None
        _publishing[lot_id] = False
    try:
        while True:
            message = publish_guidance(lot_id, now())
            with _publishing_lock:
                if not _publishing[lot_id]:
                    del _publishing[lot_id]
                    return message
                _publishing[lot_id] = False
    except BaseException:
        with _publishing_lock:
            _publishing.pop(lot_id, None)
        raise


def recount(lot_id: str, now: datetime) -> dict[str, Any] | None:
    """Count the cars inside (the sparse index) and set the kept count to it, unless the count
    changed meanwhile (the next recount gets it); records when and by how much it corrected."""
    try:
        lot = Lot.get(lot_id)
    except Lot.DoesNotExist:
        return None
    capacity = int(lot.capacity)
    counted = min(capacity, Visit.inside_by_lot.count(lot_id)) if capacity > 0 else 0
    try:
        kept = Occupancy.get(lot_id, consistent_read=True)
    except Occupancy.DoesNotExist:
        kept = None
    before = int(kept.inside) if kept is not None else 0
    unchanged = (
        Occupancy.updated_at == kept.updated_at
        if kept is not None and kept.updated_at is not None
        else Occupancy.updated_at.does_not_exist()
    )
    try:
        Occupancy(lot_id).update(
            actions=[
                Occupancy.inside.set(counted),
                Occupancy.capacity.set(capacity),
                Occupancy.recounted_at.set(now),
                Occupancy.recount_drift.set(counted - before),
            ],
            condition=unchanged,
        )
    except UpdateError:
        return None
    return {"lot_id": lot_id, "counted": counted, "was": before, "drift": counted - before}


def recount_all(now: datetime) -> list[dict[str, Any]]:
    """The schedule: every lot (a scan of the small lots table, off the request path)."""
    done = []
    for lot in Lot.scan():
        result = recount(lot.lot_id, now)
        if result is not None:
            done.append(result)
            try:
                publish_guidance(lot.lot_id, now)
            except Exception:
                log.warning("guidance not published", extra={"lot_id": lot.lot_id}, exc_info=True)
    return done
