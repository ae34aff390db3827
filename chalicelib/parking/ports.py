"""What parking offers the other contexts. They call these functions and never read parking's
tables: payments asks for a payable quote, books a payment on its visit inside the payment's
own transaction and lets the waiting car out; charging checks plates and grants its waiver; the
refund workflow settles a visit's open refund obligation when it pays it back."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.coupons import ports as coupons
from chalicelib.ledger.ports import HeldFact, VisitFact
from chalicelib.ledger.ports import visit_subject as ledger_subject
from chalicelib.parking import config, gate, paid_reservations, plates, pricing, quotes, stored_value
from chalicelib.parking.domain import plates as plate_rules
from chalicelib.parking.identity_models import IDENTITY_KEY
from chalicelib.parking.models import EXITED, INSIDE, Lot, Visit, lot_plate_key
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.shared.db import get_or_none
from chalicelib.shared.errors import NotFound

__all__ = [
    "PayableQuote",
    "VisitOwing",
    "add_payment_to_visit",
    "car_in_lot",
    "clean_plate",
    "grant_charging_waiver",
    "held_facts",
    "lot_operator",
    "lot_timezone",
    "normalize_plate",
    "note_coupon",
    "obligation_subject",
    "open_obligation",
    "payable_quote",
    "release_paid_car",
    "require_plate_owner",
    "reservation_booking",
    "reservation_paid",
    "settle_obligation",
    "use_visit_coupons",
    "visit_facts",
    "visit_owing",
]


@dataclass(frozen=True)
class PayableQuote:
    quote_id: str
    lot_id: str
    lot_plate: str
    visit_id: str
    plate: str
    due_fen: int
    priced_until: datetime
    expires_at: datetime
    current: bool  # still the visit's payable quote (not superseded by a newer one)


def payable_quote(user_id: str, quote_id: str) -> PayableQuote:
    """The caller's quote (NotFound for anyone else's)."""
    quote = quotes.get_own(user_id, quote_id)
    visit = get_or_none(Visit, quote.lot_plate, quote.visit_id, consistent=True)
    current = visit is not None and visit.status == INSIDE and visit.quote_id in (None, quote.quote_id)
    return PayableQuote(
        quote.quote_id,
        quote.lot_id,
        quote.lot_plate,
        quote.visit_id,
        quote.plate,
        int(quote.due_fen),
        quote.priced_until,
        quote.expires_at,
        current,
    )


@dataclass(frozen=True)
class VisitOwing:
    lot_id: str
    operator_id: str | None
    timezone: str | None
    visit_id: str
    status: str
    paid_fen: int
    owed_fen: int  # what the visit still owes, priced to the instant asked for
    quote_id: str | None  # its payable quote
    # the merchant coupons its quote named and that are still usable (a discount line), priced in
    coupon: dict[str, Any] | None = None


def visit_owing(
    lot_plate: str, visit_id: str, until: datetime, quote_id: str | None = None, now: datetime | None = None
) -> VisitOwing:
    """What a visit still owes with its stay priced to `until` (a closed visit: its final fee).
    With `quote_id`: the merchant coupons that quote chose are priced in while still usable."""
    visit = get_or_none(Visit, lot_plate, visit_id, consistent=True)
    if visit is None:
        raise NotFound("no such visit", "visit_not_found")
    lot = config.lot(visit.lot_id)
    paid = int(visit.paid_fen)
    coupon = None
    if visit.status == INSIDE and lot is not None:
        earlier = [
            v for v in pricing.earlier_visits(visit.lot_id, visit.plate, limit=3) if v.visit_id < visit_id
        ]
        priced = pricing.decision_at(visit, lot, until, earlier)
        wanted = quotes.coupon_ids(quote_id) if quote_id else []
        if wanted:
            try:
                held = coupons.by_ids(wanted, lot_plate, now or until)
                priced = pricing.decision_at(visit, lot, until, earlier, held, wanted, now or until)
            except coupons.CouponRuleError:
                pass  # a coupon was used or expired meanwhile: the payment counts without them
        owed, coupon = priced.decision.due_fen, priced.coupon
    elif visit.status == INSIDE:
        owed = 0
    else:
        owed = max(0, int(visit.total_fen) - paid - int(visit.discount_fen))
        if visit.status != EXITED:
            owed = 0  # an abandoned visit is never charged
    return VisitOwing(
        visit.lot_id,
        lot.operator_id if lot is not None else lot_operator(visit.lot_id),
        lot.timezone if lot is not None else None,
        visit.visit_id,
        str(visit.status),
        paid,
        owed,
        visit.quote_id,
        coupon,
    )


def add_payment_to_visit(
    tx: TransactWrite,
    lot_plate: str,
    owing: VisitOwing,
    applied_fen: int,
    excess_fen: int,
    grace: tuple[datetime, datetime] | None,
) -> None:
    """Book a payment on its visit, as an item of the payment's transaction: `applied_fen` toward
    what it owes, `excess_fen` as an open refund obligation. Conditional on the paid amount and
    status it was split with, so concurrent payments never both count toward one amount. `grace`
    = (paid_at, priced_until) only for a payment that arrived while its quote was valid."""
    actions: list[Action] = [Visit.paid_fen.add(applied_fen), Visit.overpaid_fen.add(excess_fen)]
    if owing.coupon is not None:
        actions.append(Visit.discount_fen.add(int(owing.coupon["amount_fen"])))
    if grace is not None:
        actions += [Visit.paid_at.set(grace[0]), Visit.priced_until.set(grace[1])]
    tx.update(
        Visit(lot_plate, owing.visit_id),
        actions=actions,
        condition=(Visit.paid_fen == owing.paid_fen) & (Visit.status == owing.status),
    )


def use_visit_coupons(
    tx: TransactWrite, lot_plate: str, owing: VisitOwing, used_by: str, now: datetime
) -> int:
    """The merchant coupons `owing` priced in, used once as items of the payment's transaction
    (after its visit update and posting): a coupon used meanwhile fails the transaction. Returns
    how many puts it added (DynamoDB sends them before the transaction's updates)."""
    if owing.coupon is None:
        return 0
    lot = config.lot(owing.lot_id)
    return coupons.use(
        tx,
        owing.coupon,
        lot_plate=lot_plate,
        lot_id=owing.lot_id,
        operator_id=owing.operator_id,
        zone=lot.timezone if lot is not None else owing.timezone,
        visit_id=owing.visit_id,
        used_by=used_by,
        now=now,
    )


@dataclass(frozen=True)
class CarInLot:
    visit_id: str
    lot_plate: str
    plate: str
    entered_at: datetime
    fee_fen: int
    due_fen: int  # what it would pay now, before merchant coupons
    timezone: str


def note_coupon(tx: TransactWrite, car: CarInLot) -> None:
    """A merchant coupon given to the car, as an item of the coupon's transaction: only while the
    car is still in the lot (its exit and quotes then look for coupons)."""
    tx.update(
        Visit(car.lot_plate, car.visit_id),
        actions=[Visit.coupons_given.add(1)],
        condition=Visit.status == INSIDE,
    )


def car_in_lot(lot_id: str, plate: str, now: datetime) -> CarInLot | None:
    """The plate's car inside `lot_id` now, its entry time and current fee; None when it is not
    in the lot (a merchant gives coupons only to cars in the lot)."""
    normalized = plate_rules.normalize(plate)
    lot = config.lot(lot_id)
    if lot is None:
        return None
    recent = pricing.earlier_visits(lot_id, normalized, limit=3)
    if not recent or recent[0].status != INSIDE:
        return None
    visit = recent[0]
    priced = pricing.exit_decision(visit, lot, now, recent[1:])
    return CarInLot(
        visit.visit_id,
        visit.lot_plate,
        visit.plate,
        visit.entered_at,
        priced.decision.fee.total_fen,
        priced.decision.due_fen,
        lot.timezone,
    )


def release_paid_car(lot_plate: str, visit_id: str, now: datetime) -> list[OutgoingCommand]:
    """After a payment: a car waiting at an exit with nothing left to pay is let out."""
    return gate.release_waiting_car(lot_plate, visit_id, now)


def normalize_plate(plate: str) -> str:
    return plate_rules.normalize(plate)


def clean_plate(value: object) -> str:
    return plates.clean(value)


def require_plate_owner(user_id: str, plate: str) -> None:
    plates.require_owner(user_id, plate)


def lot_timezone(lot_id: str) -> str:
    """The lot's time zone (its local days count coupons and budgets)."""
    lot = config.lot(lot_id)
    return lot.timezone if lot is not None else "Asia/Shanghai"


def lot_operator(lot_id: str) -> str | None:
    """The operator a lot belongs to, or None when there is no such lot."""
    try:
        return str(Lot.get(lot_id).operator_id)
    except Lot.DoesNotExist:
        return None


def grant_charging_waiver(
    lot_id: str, plate: str, session_id: str, station_id: str, minutes: int, fen: int, now: datetime
) -> bool:
    """Charging waives parking (充电减免停车费): the plate's visit inside the lot gets the reduction,
    once per visit. False when the car is not inside or the visit already has one."""
    normalized = plate_rules.normalize(plate)
    for visit in Visit.query(
        lot_plate_key(lot_id, normalized),
        Visit.visit_id < IDENTITY_KEY,
        scan_index_forward=False,
        limit=1,
        consistent_read=True,
    ):
        if visit.status != INSIDE:
            return False
        grant = {"session_id": session_id, "station_id": station_id, "minutes": minutes, "fen": fen}
        try:
            visit.update(
                actions=[Visit.charging_waiver.set(grant)],
                condition=Visit.charging_waiver.does_not_exist() & (Visit.status == INSIDE),
            )
        except UpdateError:
            return False
        return True
    return False


def visit_facts() -> Iterator[VisitFact]:
    """Every visit's paid amount and open obligation (the ledger's scheduled check; a scan)."""
    for visit in Visit.scan(Visit.visit_id != IDENTITY_KEY):
        yield VisitFact(
            str(visit.visit_id), str(visit.status), int(visit.paid_fen), int(visit.overpaid_fen or 0)
        )


def held_facts() -> Iterator[HeldFact]:
    """Every stored-value card's balance and every paid reservation's prepaid held and owed back
    (the ledger's scheduled check; scans)."""
    yield from stored_value.balance_facts()
    yield from paid_reservations.balance_facts()


def open_obligation(lot_plate: str, visit_id: str) -> int:
    """What a visit holds beyond what it owed (its open refund obligation), read consistently; for
    a paid reservation's payment (its key in place of a visit id), what the reservation owes back."""
    if paid_reservations.is_reservation_key(visit_id):
        return paid_reservations.open_obligation(lot_plate, visit_id)
    visit = get_or_none(Visit, lot_plate, visit_id, consistent=True)
    return int(visit.overpaid_fen or 0) if visit is not None else 0


def settle_obligation(
    tx: TransactWrite, lot_plate: str, visit_id: str, seen_fen: int, amount_fen: int
) -> None:
    """`amount_fen` of the visit's open refund obligation is paid back, as an item of the refund's
    transaction (conditional on the obligation read: `seen_fen`)."""
    if paid_reservations.is_reservation_key(visit_id):
        paid_reservations.settle_obligation(tx, lot_plate, visit_id, seen_fen, amount_fen)
        return
    tx.update(
        Visit(lot_plate, visit_id),
        actions=[Visit.overpaid_fen.set(seen_fen - amount_fen)],
        condition=(Visit.overpaid_fen == seen_fen) & (Visit.overpaid_fen >= amount_fen),
    )


def approve_reservation(lot_id: str, reservation_id: str, now: datetime) -> dict[str, Any]:
    """A reservation approved in the approval engine (its executor): its pass is written."""
    from chalicelib.parking import reservations

    return reservations.approve(lot_id, reservation_id, now)


# Paid reservations (docs/identities.md): payments books their payment through these.


def reservation_booking(
    lot_id: str, key: str, payment_id: str, amount_fen: int, now: datetime
) -> paid_reservations.Booking:
    """What a confirmed payment of a reservation (`key`: its payments' key) does, read."""
    return paid_reservations.booking(lot_id, key, payment_id, amount_fen, now)


def reservation_paid(tx: TransactWrite, booked: paid_reservations.Booking, now: datetime) -> None:
    """The reservation paid and its pass written (or what it owes back increased), as items of
    the payment's transaction."""
    paid_reservations.paid(tx, booked, now)


def obligation_subject(visit_id: str) -> str:
    """Whose refund obligation a parking payment's refund pays first: the visit's, or a paid
    reservation's (its payments' key in place of a visit id)."""
    if paid_reservations.is_reservation_key(visit_id):
        return paid_reservations.obligation_subject(visit_id)
    return ledger_subject(visit_id)
