"""What parking offers the other contexts. They call these functions and never read parking's
tables: payments asks for a payable quote, books a payment on its visit inside the payment's
own transaction and lets the waiting car out; charging checks plates and grants its waiver."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.parking import gate, plates, quotes
from chalicelib.parking.domain import plates as plate_rules
from chalicelib.parking.models import INSIDE, Lot, Visit, lot_plate_key
from chalicelib.platform.commands import OutgoingCommand

__all__ = [
    "PayableQuote",
    "add_payment_to_visit",
    "clean_plate",
    "grant_charging_waiver",
    "lot_operator",
    "normalize_plate",
    "payable_quote",
    "release_paid_car",
    "require_plate_owner",
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


def payable_quote(user_id: str, quote_id: str) -> PayableQuote:
    """The caller's quote (NotFound for anyone else's)."""
    quote = quotes.get_own(user_id, quote_id)
    return PayableQuote(
        quote.quote_id,
        quote.lot_id,
        quote.lot_plate,
        quote.visit_id,
        quote.plate,
        int(quote.due_fen),
        quote.priced_until,
        quote.expires_at,
    )


def add_payment_to_visit(
    tx: TransactWrite, lot_plate: str, visit_id: str, amount_fen: int, priced_until: datetime, now: datetime
) -> None:
    """Book a payment on its visit, as an item of the payment's transaction."""
    tx.update(
        Visit(lot_plate, visit_id),
        actions=[
            Visit.paid_fen.add(amount_fen),
            Visit.paid_at.set(now),
            Visit.priced_until.set(priced_until),
        ],
        condition=Visit.visit_id.exists(),
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
        lot_plate_key(lot_id, normalized), scan_index_forward=False, limit=1, consistent_read=True
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
