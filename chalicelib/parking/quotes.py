"""Fee quotes for a driver's car in a lot: one payable quote per visit at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import TransactWriteError

from chalicelib.parking import config, plates, pricing
from chalicelib.parking.models import INSIDE, Quote, Visit
from chalicelib.shared.db import failed_condition, get_owned, transaction
from chalicelib.shared.errors import NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.settings import get_settings


def open_visit(plate: str, lot_id: str | None) -> Visit:
    """The plate's visit that is inside now (in `lot_id` when given), newest first."""
    for visit in Visit.by_plate.query(plate, scan_index_forward=False, limit=20):
        if visit.status == INSIDE and (lot_id is None or visit.lot_id == lot_id):
            return visit
    raise NotFound("this car is not in a lot", "no_open_visit")


def create(user_id: str, plate: str, lot_id: str | None, now: datetime) -> Quote:
    plates.require_owner(user_id, plate)
    visit = open_visit(plate, lot_id)
    lot = config.lot(visit.lot_id)
    if lot is None:
        raise NotFound("the lot of this visit no longer exists", "lot_not_found")
    recent = pricing.earlier_visits(visit.lot_id, plate, limit=3)
    priced = pricing.exit_decision(visit, lot, now, [v for v in recent if v.visit_id < visit.visit_id])
    decision, until = priced.decision, priced.until
    expires = now + timedelta(minutes=get_settings().quote_ttl_minutes)
    quote = Quote(
        sortable_id("q", now),
        user_id=user_id,
        lot_id=visit.lot_id,
        lot_plate=visit.lot_plate,
        visit_id=visit.visit_id,
        plate=plate,
        entered_at=visit.entered_at,
        priced_until=until,
        total_fen=decision.fee.total_fen,
        paid_fen=int(visit.paid_fen),
        discount_fen=int(visit.discount_fen) + priced.discount_fen,
        discounts=priced.discounts,
        due_fen=decision.due_fen,
        breakdown=decision.fee.breakdown(),
        tariff=visit.tariff_ref or {},
        created_at=now,
        expires_at=expires,
        ttl=expires + timedelta(days=1),
    )
    # One payable amount at a time: the new quote becomes the visit's payable one, superseding the
    # earlier unpaid quotes (payments refuses them, and books any late money they still bring).
    try:
        with transaction() as tx:
            tx.save(quote, condition=Quote.quote_id.does_not_exist())
            tx.update(
                Visit(visit.lot_plate, visit.visit_id),
                actions=[Visit.quote_id.set(quote.quote_id)],
                condition=Visit.status == INSIDE,
            )
    except TransactWriteError as exc:
        if failed_condition(exc):
            raise NotFound("this car is not in a lot", "no_open_visit") from exc  # it left meanwhile
        raise
    return quote


def get_own(user_id: str, quote_id: str) -> Quote:
    return get_owned(
        Quote, quote_id, owner=("user_id", user_id), missing=NotFound("no such quote", "quote_not_found")
    )
