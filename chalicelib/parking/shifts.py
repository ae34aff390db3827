"""Cashier shifts (收费员班次): a cashier opens a shift at a lot, every fen they take there belongs
to it, and closing it reports what it took (docs/booth.md).

One item per cashier and lot while the shift is open (range key `open`): opening puts it only if
none exists, each cash action adds its totals to it in the action's own transaction (on the
condition that it is still that shift), and closing moves it, in one transaction, to its
permanent item (range key: the shift id) with the closing time. A cash action racing a close
fails its condition and finds no open shift.

Access patterns:
- the open shift of a cashier at a lot (every cash action; a consistent GetItem);
- a lot's shifts, newest first (GSI `by_lot`: the booth's and finance's list).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.parking.domain.booth import COUNTERS, ShiftTotals, needs_confirmation
from chalicelib.platform import audit
from chalicelib.shared.db import TableMeta, failed_condition, get_or_none, table_name_for, transaction
from chalicelib.shared.errors import Conflict
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso

OPEN = "open"
CLOSED = "closed"


class ShiftsByLot(GlobalSecondaryIndex["CashierShift"]):
    class Meta:
        index_name = "by_lot"
        projection = AllProjection()

    lot_id = UnicodeAttribute(hash_key=True)
    opened_at = UTCDateTimeAttribute(range_key=True)


class CashierShift(Model):
    class Meta(TableMeta):
        table_name = table_name_for("cashier_shifts")

    cashier_key = UnicodeAttribute(hash_key=True)  # "<lot_id>#<user_id>"
    slot = UnicodeAttribute(range_key=True)  # "open" while open, then the shift id
    shift_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    status = UnicodeAttribute()
    opened_at = UTCDateTimeAttribute()
    closed_at = UTCDateTimeAttribute(null=True)
    payments = NumberAttribute(default=0)
    cash_fen = NumberAttribute(default=0)
    tendered_fen = NumberAttribute(default=0)
    change_fen = NumberAttribute(default=0)
    releases = NumberAttribute(default=0)
    release_cash_fen = NumberAttribute(default=0)
    waived_fen = NumberAttribute(default=0)

    by_lot = ShiftsByLot()


MODELS: list[type[Model]] = [CashierShift]


def _key(lot_id: str, user_id: str) -> str:
    return f"{lot_id}#{user_id}"


def totals(shift: CashierShift) -> ShiftTotals:
    return ShiftTotals(**{name: int(getattr(shift, name) or 0) for name in COUNTERS})


def current(lot_id: str, user_id: str) -> CashierShift | None:
    """The cashier's open shift at the lot, read consistently."""
    return get_or_none(CashierShift, _key(lot_id, user_id), OPEN, consistent=True)


def require_open(lot_id: str, user_id: str) -> CashierShift:
    shift = current(lot_id, user_id)
    if shift is None:
        raise Conflict("you have no open shift at this lot: open one before taking cash", "no_open_shift")
    return shift


def require_confirmed(confirm_above_fen: Any, kept_fen: int, confirmed: bool) -> None:
    """Cash above the lot's threshold is taken only when the cashier confirms it (409
    `confirmation_required`, nothing written): `confirm_above_fen` is the lot's, or None."""
    limit = int(confirm_above_fen) if confirm_above_fen is not None else None
    if needs_confirmation(kept_fen, limit) and not confirmed:
        raise Conflict(
            f"{kept_fen} fen is above this lot's cash threshold: send it again with "
            '"confirmed": true to take it',
            "confirmation_required",
        )


def open_shift(user_id: str, operator_id: str, lot_id: str, now: datetime) -> CashierShift:
    shift = CashierShift(
        _key(lot_id, user_id),
        OPEN,
        shift_id=sortable_id("sh", now),
        lot_id=lot_id,
        operator_id=operator_id,
        user_id=user_id,
        status=OPEN,
        opened_at=now,
    )
    try:
        with transaction() as tx:
            tx.save(shift, condition=CashierShift.slot.does_not_exist())
            audit.add(
                tx, user_id, operator_id, "shift", shift.shift_id, "shift_open", None, view(shift), None, now
            )
    except TransactWriteError as error:
        if not failed_condition(error, index=0):
            raise
        held = current(lot_id, user_id)
        raise Conflict(
            f"you already have an open shift at this lot ({held.shift_id if held else '?'})",
            "shift_already_open",
        ) from error
    return shift


def add(tx: TransactWrite, shift: CashierShift, delta: dict[str, int]) -> None:
    """A cash action's totals, as an item of its transaction: only while it is still that shift."""
    actions = [getattr(CashierShift, name).add(amount) for name, amount in delta.items() if amount]
    condition = (CashierShift.shift_id == shift.shift_id) & (CashierShift.status == OPEN)
    if actions:
        tx.update(CashierShift(shift.cashier_key, OPEN), actions=actions, condition=condition)
    else:
        tx.condition_check(CashierShift, shift.cashier_key, OPEN, condition=condition)


def close_shift(user_id: str, operator_id: str, lot_id: str, now: datetime) -> CashierShift:
    """The cashier's open shift, closed: its totals as they stand at the close."""
    for _ in range(3):
        shift = require_open(lot_id, user_id)
        closed = CashierShift(
            shift.cashier_key,
            shift.shift_id,
            **{
                **{name: getattr(shift, name) for name in ("shift_id", "lot_id", "operator_id", "user_id")},
                **{name: int(getattr(shift, name) or 0) for name in COUNTERS},
                "opened_at": shift.opened_at,
                "status": CLOSED,
                "closed_at": now,
            },
        )
        unchanged = CashierShift.shift_id == shift.shift_id
        for name in COUNTERS:
            unchanged = unchanged & (getattr(CashierShift, name) == int(getattr(shift, name) or 0))
        try:
            with transaction() as tx:
                tx.delete(shift, condition=unchanged)
                tx.save(closed, condition=CashierShift.slot.does_not_exist())
                audit.add(
                    tx,
                    user_id,
                    operator_id,
                    "shift",
                    shift.shift_id,
                    "shift_close",
                    view(shift),
                    view(closed),
                    None,
                    now,
                )
        except TransactWriteError as error:
            if failed_condition(error, index=0):
                continue  # cash was taken meanwhile: close with it
            raise
        return closed
    raise Conflict("the shift kept changing; try again", "shift_changed")


def of_lot(lot_id: str, limit: int = 100) -> list[CashierShift]:
    return list(CashierShift.by_lot.query(lot_id, scan_index_forward=False, limit=limit))


def view(shift: CashierShift) -> dict[str, Any]:
    sums = totals(shift)
    return {
        "shift_id": shift.shift_id,
        "lot_id": shift.lot_id,
        "cashier_id": shift.user_id,
        "status": shift.status,
        "opened_at": iso(shift.opened_at),
        "closed_at": iso(shift.closed_at) if shift.closed_at else None,
        "payments": sums.payments,
        "cash_fen": sums.cash_fen,
        "tendered_fen": sums.tendered_fen,
        "change_fen": sums.change_fen,
        "by_method": sums.by_method(),
        "total_cash_fen": sums.total_cash_fen,
        "abnormal_releases": {
            "count": sums.releases,
            "cash_fen": sums.release_cash_fen,
            "waived_fen": sums.waived_fen,
        },
    }
