"""Fee quotes for a driver's car in a lot: one payable quote per visit at a time."""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import TransactWriteError

from chalicelib.coupons import ports as coupons
from chalicelib.parking import config, plates, pricing
from chalicelib.parking.models import INSIDE, Quote, Visit
from chalicelib.shared.db import failed_condition, get_or_none, get_owned, transaction
from chalicelib.shared.errors import NotFound, Unprocessable
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.settings import get_settings


def open_visit(plate: str, lot_id: str | None) -> Visit:
    """The plate's visit that is inside now (in `lot_id` when given), newest first."""
    for visit in Visit.by_plate.query(plate, scan_index_forward=False, limit=20):
        if visit.status == INSIDE and (lot_id is None or visit.lot_id == lot_id):
            return visit
    raise NotFound("this car is not in a lot", "no_open_visit")


def create(
    user_id: str, plate: str, lot_id: str | None, now: datetime, coupon_ids: list[str] | None = None
) -> Quote:
    plates.require_owner(user_id, plate)
    visit = open_visit(plate, lot_id)
    lot = config.lot(visit.lot_id)
    if lot is None:
        raise NotFound("the lot of this visit no longer exists", "lot_not_found")
    recent = pricing.earlier_visits(visit.lot_id, plate, limit=3)
    earlier = [v for v in recent if v.visit_id < visit.visit_id]
    try:
        priced = pricing.exit_decision(visit, lot, now, earlier, with_coupons=True, wanted=coupon_ids)
    except coupons.CouponRuleError as exc:
        raise Unprocessable(str(exc), "coupon_not_usable") from exc
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
        arrears_fen=int(visit.arrears_fen or 0),
        prepaid_fen=decision.prepaid_used_fen,
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


def coupon_ids(quote_id: str) -> list[str]:
    """The merchant coupons a quote chose (its coupon discount line)."""
    quote = get_or_none(Quote, quote_id, consistent=True)
    if quote is None:
        return []
    for line in quote.discounts or []:
        if line.get("kind") == "coupon":
            return [str(i) for i in line.get("coupon_ids", [])]
    return []
