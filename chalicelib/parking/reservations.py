"""Reservations (预约, docs/identities.md): a driver reserves a lot for a guest plate and a future
window. With system approval (the lot's default) only a card holder of the lot may invite: the
pass is written at once. With manual approval an approval of kind `reservation` is opened in the
approval engine; when staff approve it, its executor writes the pass (`approve`, idempotent).
The pass is a window of kind `reservation` on the guest plate's identity item: free while valid,
used up by its entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError

from chalicelib.parking import config, identities, paid_reservations, plates
from chalicelib.parking.identity_models import (
    IDENTITY_KEY,
    RESERVATION,
    LotIdentity,
    PlateIdentity,
    ensure,
    item_key,
)
from chalicelib.parking.models import Lot, lot_plate_key
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso
from chalicelib.workflows import ports as workflows

MAX_DAYS = 31


def view(item: LotIdentity) -> dict[str, Any]:
    return {"reservation_id": item.item_id, "lot_id": item.lot_id, **item.data}


def create(user_id: str, body: Any, now: datetime) -> dict[str, Any]:
    lot = get_or_none(Lot, body.lot_id)
    settings = config.lot(body.lot_id) if lot is not None else None
    if lot is None or settings is None:
        raise NotFound("no such lot", "lot_not_found")
    if body.ends <= body.starts or body.ends <= now:
        raise Invalid("ends must be after starts and in the future", "invalid_window")
    if (body.ends - body.starts).days > MAX_DAYS:
        raise Invalid(f"a reservation is at most {MAX_DAYS} days", "invalid_window")
    paid = paid_reservations.terms(body, settings) if body.paid else None
    guest = plates.clean(body.plate)
    manual = paid is None and settings.options.reservation_approval == "manual"
    host = plates.clean(body.host_plate) if body.host_plate else None
    if paid is None and not manual:
        # System approval: only a card holder of this lot may invite.
        if host is None:
            raise Forbidden(
                "only card holders of this lot may invite (name your card's plate)", "not_a_card_holder"
            )
        plates.require_owner(user_id, host)
        host_identity, _ = identities.lookup(body.lot_id, host, limit=0)
        snap = identities.card_snap(host_identity.card if host_identity is not None else None)
        valid = snap is not None and (snap.valid_until is None or snap.valid_until > now)
        if not valid:
            raise Forbidden("only card holders of this lot may invite", "not_a_card_holder")
    reservation_id = sortable_id("rv", now)
    data = {
        "plate": guest,
        "host_plate": host,
        "user_id": user_id,
        "starts": iso(body.starts),
        "ends": iso(body.ends),
        "status": "pending" if manual else "approved",
        "approval": "manual" if manual else "system",
        "approval_id": None,
        **(paid.data if paid is not None else {}),
    }
    item = LotIdentity(
        body.lot_id,
        item_key(RESERVATION, reservation_id),
        kind=RESERVATION,
        operator_id=lot.operator_id,
        data=data,
        created_at=now,
        updated_at=now,
        created_by=user_id,
        user_id=user_id,
        **(paid.attributes if paid is not None else {}),
    )
    item.save(condition=LotIdentity.key.does_not_exist())
    if paid is not None:
        return paid_reservations.view(item)
    if manual:
        approval_id = workflows.open_approval(
            kind="reservation",
            operator_id=lot.operator_id,
            subject=f"lot:{body.lot_id}",
            title=f"预约 {guest} {data['starts']} – {data['ends']}",
            requested_by=user_id,
            context={"lot_id": body.lot_id, "reservation_id": reservation_id, "plate": guest},
            now=now,
        )
        item.update(actions=[LotIdentity.data.set({**data, "approval_id": approval_id})])
        return view(item)
    approve(body.lot_id, reservation_id, now)
    return view(_get(body.lot_id, reservation_id))


def _get(lot_id: str, reservation_id: str) -> LotIdentity:
    item = get_or_none(LotIdentity, lot_id, item_key(RESERVATION, reservation_id), consistent=True)
    if item is None:
        raise NotFound("no such reservation", "reservation_not_found")
    return item


def approve(lot_id: str, reservation_id: str, now: datetime) -> dict[str, Any]:
    """The reservation is approved: its pass on the guest plate (once; a repeat answers the same)."""
    item = _get(lot_id, reservation_id)
    data = dict(item.data)
    if data.get("status") == "approved" and data.get("pass_written"):
        return {"reservation_id": reservation_id, "status": "approved"}
    plate = str(data["plate"])
    ensure(lot_plate_key(lot_id, plate), item.operator_id, now)
    window = {
        "kind": "reservation",
        "starts": data["starts"],
        "ends": data["ends"],
        "reason": "",
        "single_use": True,
    }
    try:
        with transaction() as tx:
            tx.update(
                item,
                actions=[
                    LotIdentity.data.set({**data, "status": "approved", "pass_written": True}),
                    LotIdentity.updated_at.set(now),
                ],
                condition=LotIdentity.updated_at == item.updated_at,
            )
            tx.update(
                PlateIdentity(lot_plate_key(lot_id, plate), IDENTITY_KEY),
                actions=[
                    PlateIdentity.windows[reservation_id].set(window),
                    PlateIdentity.updated_at.set(now),
                ],
            )
    except TransactWriteError as error:
        if failed_condition(error):
            raise Conflict("the reservation changed meanwhile", "reservation_changed") from error
        raise
    return {"reservation_id": reservation_id, "status": "approved"}
