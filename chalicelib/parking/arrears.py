"""A plate's arrears at a lot (欠费, docs/identities.md): what it owes by earlier visit, and a
cashier taking all of it at the booth (docs/booth.md).

The arrears live on the plate's identity item (`visit id → fen`, written by open-gate exits). A
car the automatic blacklist refuses never has a next fee to pay them with, so the booth takes
them on their own: in ONE transaction the identity's arrears are removed (on the condition that
they are exactly as read), one `arrears_paid` posting per earlier visit moves the cash to that
visit's receivable, the automatic blacklist entries are lifted (the list item and the identity's
window; a staff entry stays), the shift's totals grow, and an arrears record and the audit entry
are written. A repeat finds nothing owed (409 `no_arrears`) and writes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote

from pynamodb.exceptions import TransactWriteError

from chalicelib.ledger import ports as ledger
from chalicelib.parking import config, identities, lots, plates, shifts
from chalicelib.parking.domain import booth
from chalicelib.parking.identity_models import IDENTITY_KEY, LIST, LotIdentity, PlateIdentity, item_key
from chalicelib.parking.models import INSIDE, RECORD_ARREARS, Lot, lot_plate_key, new_record
from chalicelib.platform import audit
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.ids import sortable_id

CASH = booth.CASH
ATTEMPTS = 3
# One transaction holds every part (DynamoDB: 100 items): the identity, the shift, the record,
# the audit entry, the lifted list entries and one posting per earlier visit.
MAX_VISITS = 90


def _auto_entries(lot_id: str, item: PlateIdentity | None) -> list[LotIdentity]:
    """The plate's automatic blacklist entries (`auto: true`), from its black windows' list items."""
    windows = item.windows.as_dict() if item is not None and item.windows else {}
    found = []
    for entry_id, data in sorted(windows.items()):
        if dict(data).get("kind") != "black":
            continue
        entry = get_or_none(LotIdentity, lot_id, item_key(LIST, entry_id), consistent=True)
        if entry is not None and entry.data.get("auto"):
            found.append(entry)
    return found


def _read(lot_id: str, plate: str) -> tuple[PlateIdentity | None, dict[str, int], bool]:
    """The identity item, its arrears and whether the plate's latest visit is inside carrying them."""
    item, visits = identities.lookup(lot_id, plate, 1)
    arrears = dict(identities.view(item).arrears)
    carried = bool(visits and visits[0].status == INSIDE and int(visits[0].arrears_fen or 0) > 0)
    return item, arrears, carried


def _parts(arrears: dict[str, int]) -> list[dict[str, Any]]:
    return [{"visit_id": v, "amount_fen": fen} for v, fen in sorted(arrears.items())]


def show(operator_id: str, lot_id: str, plate_text: str) -> dict[str, Any]:
    """What the plate owes at the lot, by visit, and whether the automatic blacklist holds it."""
    lots.own(operator_id, lot_id)
    return _shown(lot_id, plates.clean(unquote(plate_text)))  # a path parameter


def show_own(user_id: str, lot_id: str, plate_text: str) -> dict[str, Any]:
    """The driver's view of a plate bound to them (403 `not_your_plate` otherwise), read only."""
    plate = plates.clean(plate_text)
    plates.require_owner(user_id, plate)
    if get_or_none(Lot, lot_id) is None:
        raise NotFound("no such lot", "lot_not_found")
    return _shown(lot_id, plate)


def _shown(lot_id: str, plate: str) -> dict[str, Any]:
    item, arrears, carried = _read(lot_id, plate)
    return {
        "lot_id": lot_id,
        "plate": plate,
        "arrears_fen": sum(arrears.values()),
        "visits": _parts(arrears),
        "auto_blacklisted": bool(_auto_entries(lot_id, item)),
        "carried_by_visit": carried,
    }


def take_cash(
    user_id: str,
    operator_id: str,
    lot_id: str,
    plate_text: str,
    now: datetime,
    *,
    amount_fen: int | None = None,
    tendered_fen: int | None = None,
    confirmed: bool = False,
) -> dict[str, Any]:
    """The cashier takes the plate's whole arrears in cash, in their open shift at the lot."""
    lot_item = lots.own(operator_id, lot_id)
    lot = config.lot(lot_id)
    if lot is None:
        raise NotFound("no such lot", "lot_not_found")
    plate = plates.clean(unquote(plate_text))  # a path parameter
    for attempt in range(ATTEMPTS):
        item, arrears, carried = _read(lot_id, plate)
        if not arrears:
            raise Conflict(f"{plate} owes nothing at this lot", "no_arrears")
        if carried:  # the visit inside pays them with its fee (visit cash, or at the exit)
            raise Conflict(
                f"{plate} is inside: its arrears are paid with this visit's fee", "arrears_on_visit"
            )
        if len(arrears) > MAX_VISITS:
            raise Conflict(f"more than {MAX_VISITS} unpaid visits: ask support", "too_many_arrears")
        shift = shifts.require_open(lot_id, user_id)
        owed = sum(arrears.values())
        try:
            taken = booth.take_arrears(owed, tendered_fen, amount_fen)
        except booth.ArrearsNotCovered as error:
            raise Conflict(str(error), "arrears_not_covered") from error
        except booth.BadTender as error:
            raise Invalid(str(error), "invalid_cash") from error
        shifts.require_confirmed(lot_item.cash_confirm_above_fen, taken.kept_fen, confirmed)
        lifted = _auto_entries(lot_id, item)
        action_id = sortable_id("cash", now)
        memo = {"source": "staff", "method": CASH, "who": user_id, "shift_id": shift.shift_id}
        postings = [
            ledger.arrears_paid(
                action_id,
                provider=CASH,
                lot_id=lot_id,
                operator_id=lot.operator_id,
                visit_id=visit_id,
                amount_fen=fen,
                at=now,
                memo=memo,
            )
            for visit_id, fen in sorted(arrears.items())
        ]
        delta = booth.ShiftTotals().plus_payment(taken).minus(booth.ShiftTotals())
        # as read, and not changed since by an entry that carries them (its visit pays them)
        condition: Any = identities.arrears_unchanged(arrears)
        if item is not None:
            condition = condition & (
                PlateIdentity.updated_at == item.updated_at
                if item.updated_at is not None
                else PlateIdentity.updated_at.does_not_exist()
            )
        before = {"arrears": arrears, "auto_blacklist": [e.item_id for e in lifted]}
        after = {
            "arrears": {},
            "auto_blacklist": [],
            "shift_id": shift.shift_id,
            "tendered_fen": taken.tendered_fen,
            "cash_fen": taken.kept_fen,
            "change_fen": taken.change_fen,
        }
        try:
            with transaction() as tx:
                tx.update(
                    PlateIdentity(lot_plate_key(lot_id, plate), IDENTITY_KEY),
                    actions=[
                        *(PlateIdentity.arrears[visit_id].remove() for visit_id in sorted(arrears)),
                        *(PlateIdentity.windows[entry.item_id].remove() for entry in lifted),
                        PlateIdentity.updated_at.set(now),
                    ],
                    condition=condition,
                )
                for entry in lifted:
                    tx.delete(entry, condition=LotIdentity.key.exists())
                for posting in postings:
                    ledger.add(tx, posting, lot.timezone)
                shifts.add(tx, shift, delta)
                tx.save(
                    new_record(
                        lot_id,
                        RECORD_ARREARS,
                        plate,
                        now,
                        action_id,
                        detail={
                            "kind": "paid_at_booth",
                            "who": user_id,
                            "shift_id": shift.shift_id,
                            "paid_fen": taken.kept_fen,
                            "visits": dict(sorted(arrears.items())),
                            "lifted": [e.item_id for e in lifted],
                        },
                    )
                )
                audit.add(
                    tx,
                    user_id,
                    operator_id,
                    "plate",
                    f"{lot_id}/{plate}",
                    "arrears_cash",
                    before,
                    after,
                    None,
                    now,
                )
        except TransactWriteError as error:
            if failed_condition(error) and attempt + 1 < ATTEMPTS:
                continue  # the arrears, a list entry or the shift changed meanwhile: read again
            raise Conflict(
                "the plate's arrears or the shift changed meanwhile; try again", "arrears_changed"
            ) from error
        return {
            "lot_id": lot_id,
            "plate": plate,
            "shift_id": shift.shift_id,
            "payment_id": action_id,
            "tendered_fen": taken.tendered_fen,
            "amount_fen": taken.kept_fen,
            "change_fen": taken.change_fen,
            "visits": _parts(arrears),
            "lifted": [e.item_id for e in lifted],
        }
    raise AssertionError("unreachable")
