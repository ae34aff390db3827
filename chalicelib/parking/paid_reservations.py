"""Paid reservations (付费预约, docs/identities.md): a lot that offers them charges a fixed fee plus a
prepaid parking amount. Anyone signed in books one, for their own plate or a guest's, with no
host and no approval; it waits for its payment (payments.ports: a payment of purpose
`reservation`), and the transaction that books the payment marks it paid and writes its pass on
the guest plate's identity item (`reservation_paid`, called by payments). The pass carries the
prepaid amount, which the visit it starts carries too (the gate reads nothing more); the visit's
close settles it (`on_close`: what the stay used pays the visit, the rest is owed back). A cancel
before the window gives fee and prepaid back; a window that ends without an entry gives the
prepaid back and keeps the fee (`settle`, scheduled). What is owed back is a refund obligation
on the reservation (`owed_back_fen`, with its journal posting) and then on its payment, where the
refund workflow's automatic refund finds it and pays it through the provider. The gate never
writes payments' tables: a close leaves the reservation on the sparse index and the scheduled
job puts what it owes back on its payment."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.ledger.ports import HeldFact
from chalicelib.parking import config
from chalicelib.parking.domain import reservations as rules
from chalicelib.parking.identity_models import (
    DUE_SHARD,
    IDENTITY_KEY,
    RESERVATION,
    LotIdentity,
    PlateIdentity,
    ensure,
    item_key,
)
from chalicelib.parking.models import Visit, lot_plate_key
from chalicelib.payments import ports as payments
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.timeutil import parse_iso

KEY_PREFIX = "resv:"  # a reservation's payments stand on the payments' by-visit index under this
NO_SHOW_GRACE = timedelta(minutes=1)  # an entry at the window's last instant commits first
BATCH = 100


def payments_key(reservation_id: str) -> str:
    return f"{KEY_PREFIX}{reservation_id}"


def is_reservation_key(key: str) -> bool:
    return key.startswith(KEY_PREFIX)


def _money(item: LotIdentity, payment_id: str | None = None) -> ledger.ReservationMoney:
    data = item.data or {}
    return ledger.ReservationMoney(
        item.item_id,
        str(payment_id or data.get("payment_id") or ""),
        str(item.lot_id),
        str(item.operator_id),
        int(data.get("fee_fen") or 0),
        int(data.get("prepaid_fen") or 0),
    )


def view(item: LotIdentity) -> dict[str, Any]:
    data = dict(item.data or {})
    out = {"reservation_id": item.item_id, "lot_id": item.lot_id, **data}
    if data.get("paid"):
        out["status"] = item.state or data.get("status")
        out["owed_back_fen"] = int(item.owed_back_fen or 0)
    return out


@dataclass(frozen=True)
class Terms:
    """What a paid reservation adds to a reservation item: its data and its attributes."""

    data: dict[str, Any]
    attributes: dict[str, Any]


def terms(body: Any, settings: config.LotConfig) -> Terms:
    """A paid reservation (for the caller's own plate or a guest's, no host, no approval) waits
    for its payment of the lot's fee + prepaid amount."""
    offer = settings.options.paid_reservation
    if not offer.offered:
        raise Conflict("this lot offers no paid reservations", "paid_reservation_not_offered")
    if body.host_plate:
        raise Invalid("a paid reservation names no host", "invalid_host")
    data = {
        "status": rules.AWAITING_PAYMENT,
        "approval": "paid",
        "paid": True,
        "fee_fen": offer.fee_fen,
        "prepaid_fen": offer.prepaid_fen,
        "total_fen": offer.total_fen,
        "payment_id": None,
    }
    return Terms(data, {"state": rules.AWAITING_PAYMENT, "ends_at": body.ends, "owed_back_fen": 0})


# --- the driver's own ---------------------------------------------------------------------------


def mine(user_id: str, limit: int = 100) -> list[dict[str, Any]]:
    found = LotIdentity.by_user.query(
        user_id, LotIdentity.key.startswith(f"{RESERVATION}#"), scan_index_forward=False, limit=limit
    )
    return [view(item) for item in found]


def of_lot(lot_id: str, limit: int = 500) -> list[dict[str, Any]]:
    """A lot's reservations, free and paid, newest first (staff; the caller checks the lot)."""
    found = LotIdentity.query(
        lot_id, LotIdentity.key.startswith(f"{RESERVATION}#"), scan_index_forward=False, limit=limit
    )
    return [view(item) for item in found]


def own(user_id: str, reservation_id: str) -> LotIdentity:
    """The caller's reservation, read consistently (anyone else's answers 404)."""
    for found in LotIdentity.by_user.query(user_id, LotIdentity.key == item_key(RESERVATION, reservation_id)):
        item = get_or_none(LotIdentity, found.lot_id, found.key, consistent=True)
        if item is not None and item.user_id == user_id:
            return item
    raise NotFound("no such reservation", "reservation_not_found")


def pay(
    user_id: str,
    reservation_id: str,
    method: str,
    payer_id: str | None,
    now: datetime,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """The reservation's payment (fee + prepaid) at the provider of the lot's merchant account."""
    item = own(user_id, reservation_id)
    data = item.data or {}
    if not data.get("paid"):
        raise Conflict("this reservation is free: there is nothing to pay", "not_awaiting_payment")
    refused = None  # a retry with its Idempotency-Key answers its payment all the same
    if item.state != rules.AWAITING_PAYMENT:
        refused = Conflict("this reservation is not waiting for a payment", "not_awaiting_payment")
    elif now >= _instant(data["ends"]):
        refused = Conflict("this reservation's window is over", "reservation_over")
    payment, order = payments.order_reservation(
        user_id,
        lot_id=str(item.lot_id),
        reservation_id=reservation_id,
        key=payments_key(reservation_id),
        lot_plate=lot_plate_key(str(item.lot_id), str(data["plate"])),
        amount_fen=int(data["total_fen"]),
        method=method,
        payer_id=payer_id,
        now=now,
        idempotency_key=idempotency_key,
        refused=refused,
    )
    return {"reservation": view(own(user_id, reservation_id)), "payment": payment, "provider_order": order}


def _instant(value: Any) -> datetime:
    return parse_iso(str(value))


# --- booked with its payment (payments calls it inside the payment's transaction) --------------


@dataclass(frozen=True)
class Booking:
    money: ledger.ReservationMoney
    accepted: bool  # False: the reservation no longer waits for it, the amount is owed back
    amount_fen: int
    timezone: str
    item: LotIdentity  # as read (the writes are conditional on it)


def booking(lot_id: str, key: str, payment_id: str, amount_fen: int, now: datetime) -> Booking:
    """What a confirmed payment of a reservation does: accepted when the reservation waits for
    it (its window not over, the amount its total), else owed back (the money is real)."""
    item = get_or_none(LotIdentity, lot_id, _key(key.removeprefix(KEY_PREFIX)), consistent=True)
    if item is None:
        raise NotFound(f"no reservation paid by {payment_id}", "reservation_not_found")
    data = item.data or {}
    accepted = (
        item.state == rules.AWAITING_PAYMENT
        and now < _instant(data["ends"])
        and amount_fen == int(data.get("total_fen") or 0)
    )
    return Booking(_money(item, payment_id), accepted, amount_fen, _zone(str(item.lot_id)), item)


def _zone(lot_id: str) -> str:
    settings = config.lot(lot_id)
    return settings.timezone if settings is not None else "Asia/Shanghai"


def paid(tx: TransactWrite, booked: Booking, now: datetime) -> None:
    """As items of the payment's transaction: an accepted payment makes the reservation paid and
    writes its pass on the guest plate's identity item; another adds its amount to what the
    reservation owes back. Conditional on the state read."""
    item, payment_id = booked.item, booked.money.payment_id
    reservation_id, data = item.item_id, dict(item.data or {})
    if not booked.accepted:
        tx.update(
            item,
            actions=[LotIdentity.owed_back_fen.add(booked.amount_fen), LotIdentity.updated_at.set(now)],
            condition=LotIdentity.state == item.state,
        )
        return
    plate = str(data["plate"])
    ensure(lot_plate_key(str(item.lot_id), plate), str(item.operator_id), now)
    tx.update(
        item,
        actions=[
            LotIdentity.state.set(rules.PAID),
            LotIdentity.data.set({**data, "status": rules.PAID, "payment_id": payment_id}),
            LotIdentity.due_shard.set(DUE_SHARD),
            LotIdentity.updated_at.set(now),
        ],
        condition=LotIdentity.state == rules.AWAITING_PAYMENT,
    )
    window = {
        "kind": "reservation",
        "starts": data["starts"],
        "ends": data["ends"],
        "reason": "",
        "single_use": True,
        "paid": True,
        "prepaid_fen": int(data.get("prepaid_fen") or 0),
        "payment_id": payment_id,
    }
    tx.update(
        PlateIdentity(lot_plate_key(str(item.lot_id), plate), IDENTITY_KEY),
        actions=[PlateIdentity.windows[reservation_id].set(window), PlateIdentity.updated_at.set(now)],
    )


def _key(reservation_id: str) -> str:
    return item_key(RESERVATION, reservation_id)


# --- settled: the visit closes, the driver cancels, the window ends without an entry -----------


def on_close(tx: TransactWrite, visit: Visit, lot: config.LotConfig, net_fee_fen: int, now: datetime) -> int:
    """The visit of a paid reservation closes, as items of the close's transaction: its prepaid
    pays its own fee first (that much moves from the reservation's liability to the visit's
    receivable), the rest is owed back to the payer (the automatic refund pays it). Returns what
    the prepaid paid of the visit's fee."""
    prepaid = int(visit.prepaid_fen or 0)
    ref = visit.reservation or {}
    if prepaid <= 0 or not ref.get("reservation_id"):
        return 0
    used, unused = rules.prepaid_split(prepaid, net_fee_fen)
    reservation_id, payment_id = str(ref["reservation_id"]), str(ref.get("payment_id") or "")
    if not payment_id:
        return 0
    money = ledger.ReservationMoney(reservation_id, payment_id, lot.lot_id, lot.operator_id, 0, prepaid)
    ledger.add(
        tx,
        ledger.reservation_settled(money, how=rules.USED, used_fen=used, visit_id=visit.visit_id, at=now),
        lot.timezone,
    )
    # What is owed back goes on the payment with the next run of the scheduled job, so that the
    # gate writes no payments' table: the index key is set back by the no-show grace (which is
    # for windows ending, not for this), so the next run takes it.
    handover = [
        LotIdentity.due_shard.set(DUE_SHARD),
        LotIdentity.ends_at.set(now - NO_SHOW_GRACE),
        LotIdentity.handover_fen.set(unused),
    ]
    tx.update(
        LotIdentity(lot.lot_id, _key(reservation_id)),
        actions=[
            LotIdentity.state.set(rules.USED),
            LotIdentity.owed_back_fen.add(unused),
            *(handover if unused else [LotIdentity.due_shard.remove()]),
            LotIdentity.updated_at.set(now),
        ],
        condition=LotIdentity.state == rules.PAID,
    )
    return used


def _settle(item: LotIdentity, how: str, now: datetime) -> bool:
    """Cancelled or a no-show, once: the reservation's state, its pass taken off the plate (only
    if it was never used), what is owed back on the payment, the journal posting. False when it
    changed meanwhile (its pass used, settled by another run)."""
    data = dict(item.data or {})
    money = _money(item)
    back = money.prepaid_fen + (money.fee_fen if how == rules.CANCELLED else 0)
    try:
        with transaction() as tx:
            tx.update(
                item,
                actions=[
                    LotIdentity.state.set(how),
                    LotIdentity.data.set({**data, "status": how}),
                    LotIdentity.owed_back_fen.add(back),
                    LotIdentity.due_shard.remove(),
                    LotIdentity.updated_at.set(now),
                ],
                condition=LotIdentity.state == rules.PAID,
            )
            tx.update(
                PlateIdentity(lot_plate_key(str(item.lot_id), str(data["plate"])), IDENTITY_KEY),
                actions=[PlateIdentity.windows[item.item_id].remove(), PlateIdentity.updated_at.set(now)],
                condition=PlateIdentity.used[item.item_id].does_not_exist(),
            )
            if back:
                payments.owe_back(tx, money.payment_id, back)
            ledger.add(
                tx,
                ledger.reservation_settled(money, how=how, at=now, refund_fee=how == rules.CANCELLED),
                _zone(str(item.lot_id)),
            )
    except TransactWriteError as error:
        if failed_condition(error):
            return False
        raise
    return True


def cancel(user_id: str, reservation_id: str, now: datetime) -> dict[str, Any]:
    """The driver cancels before the window starts: a paid one gets fee and prepaid back."""
    item = own(user_id, reservation_id)
    data = dict(item.data or {})
    if not data.get("paid") or not rules.cancellable(str(item.state), _instant(data["starts"]), now):
        raise Conflict("only a paid reservation whose window has not started is cancelled", "not_cancellable")
    if item.state == rules.AWAITING_PAYMENT:
        try:
            item.update(
                actions=[
                    LotIdentity.state.set(rules.CANCELLED),
                    LotIdentity.data.set({**data, "status": rules.CANCELLED}),
                    LotIdentity.updated_at.set(now),
                ],
                condition=LotIdentity.state == rules.AWAITING_PAYMENT,
            )
        except UpdateError as error:  # paid meanwhile: cancel again
            raise Conflict("the reservation changed meanwhile; try again", "reservation_changed") from error
    elif not _settle(item, rules.CANCELLED, now):
        raise Conflict("the reservation changed meanwhile", "reservation_changed")
    return view(own(user_id, reservation_id))


def _hand_over(item: LotIdentity) -> bool:
    """A used reservation's unused prepaid (booked at its visit's close) put on its payment for
    the automatic refund, once (the reservation leaves the index in the same transaction)."""
    data = item.data or {}
    try:
        with transaction() as tx:
            tx.update(
                item,
                actions=[LotIdentity.due_shard.remove(), LotIdentity.handover_fen.remove()],
                condition=(LotIdentity.state == rules.USED) & LotIdentity.due_shard.exists(),
            )
            payments.owe_back(tx, str(data["payment_id"]), int(item.handover_fen or 0))
    except TransactWriteError as error:
        if failed_condition(error):
            return False
        raise
    return True


def settle(now: datetime) -> dict[str, int]:
    """The scheduled job: paid reservations on the sparse index whose key instant has passed (no
    scan): a pass never used by the window's end is a no-show (the prepaid owed back, the fee
    kept); a used one leaves the index (its visit's close settles it); a closed visit's unused
    prepaid is put on the payment for the automatic refund. Run twice, settles once."""
    counts = {"no_show": 0, "entered": 0, "refunds": 0}
    due = LotIdentity.reservations_due.query(
        DUE_SHARD, LotIdentity.ends_at <= now - NO_SHOW_GRACE, limit=BATCH
    )
    for found in due:
        item = get_or_none(LotIdentity, found.lot_id, found.key, consistent=True)
        if item is not None and item.state == rules.USED and _hand_over(item):
            counts["refunds"] += 1
        if item is None or item.state != rules.PAID:
            continue
        if _settle(item, rules.NO_SHOW, now):
            counts["no_show"] += 1
            continue
        item.refresh(consistent_read=True)
        if item.state == rules.PAID:  # its pass was used: the visit's close settles it
            with contextlib.suppress(UpdateError):  # closed meanwhile: the next run hands it over
                item.update(
                    actions=[LotIdentity.due_shard.remove()], condition=LotIdentity.state == rules.PAID
                )
                counts["entered"] += 1
    return counts


# --- the refund workflow pays what is owed back (through parking.ports) ------------------------


def _item_of(lot_plate: str, key: str) -> LotIdentity | None:
    lot_id = lot_plate.split("#", 1)[0]
    return get_or_none(LotIdentity, lot_id, _key(key.removeprefix(KEY_PREFIX)), consistent=True)


def open_obligation(lot_plate: str, key: str) -> int:
    item = _item_of(lot_plate, key)
    return int(item.owed_back_fen or 0) if item is not None else 0


def settle_obligation(tx: TransactWrite, lot_plate: str, key: str, seen_fen: int, amount_fen: int) -> None:
    lot_id = lot_plate.split("#", 1)[0]
    tx.update(
        LotIdentity(lot_id, _key(key.removeprefix(KEY_PREFIX))),
        actions=[LotIdentity.owed_back_fen.set(seen_fen - amount_fen)],
        condition=(LotIdentity.owed_back_fen == seen_fen) & (LotIdentity.owed_back_fen >= amount_fen),
    )


def obligation_subject(key: str) -> str:
    return ledger.reservation_subject(key.removeprefix(KEY_PREFIX))


def balance_facts() -> Iterator[HeldFact]:
    """Every paid reservation's prepaid still held and what it owes back, for the ledger's
    scheduled check against `reservation_prepaid:<id>` and its refund obligation (a scan)."""
    for item in LotIdentity.scan(LotIdentity.kind == RESERVATION):
        data = item.data or {}
        if not data.get("paid"):
            continue
        held = int(data.get("prepaid_fen") or 0) if item.state == rules.PAID else 0
        yield HeldFact(ledger.reservation_prepaid(item.item_id), held)
        owed = ledger.refunds_payable(ledger.reservation_subject(item.item_id))
        yield HeldFact(owed, int(item.owed_back_fen or 0))
