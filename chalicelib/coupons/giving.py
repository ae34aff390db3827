"""Giving and claiming coupons: a merchant gives one to a plate of a car in its lot (after seeing
the car's entry time and current fee; a second coupon from the same merchant needs a
confirmation), a driver claims one by scanning a merchant's or a campaign's QR code. One
transaction issues the coupon with every limit it counts against: the batch's total, per person,
per day and per person per day, the merchant's budget for release coupons in the period, and the
lot's "one unused coupon per car" marker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.condition import Condition

from chalicelib.coupons import holdings, reports
from chalicelib.coupons.domain import rules
from chalicelib.coupons.merchants import one_unused_per_car
from chalicelib.coupons.models import BOUGHT, BUDGET, GIVEN, ORDERED, Batch, Counter, Coupon, Merchant
from chalicelib.parking import ports as parking
from chalicelib.shared.db import cancellation_codes, get_or_none, transaction
from chalicelib.shared.errors import Conflict, DomainError, NotFound
from chalicelib.shared.ids import sortable_id

NO_BATCH = NotFound("no such coupon batch", "batch_not_found")


class BudgetExhausted(Conflict):
    def __init__(self, message: str) -> None:
        super().__init__(message, "budget_exhausted")


class LimitReached(Conflict):
    pass


@dataclass(frozen=True)
class CarView:
    car: parking.CarInLot
    held_from_merchant: int


def look_up(merchant: Merchant, plate: str, now: datetime) -> CarView:
    """What a merchant sees before giving: the car's entry time and current fee, and how many
    unused coupons of this merchant it already holds."""
    car = parking.car_in_lot(str(merchant.lot_id), parking.clean_plate(plate), now)
    if car is None:
        raise Conflict(
            "this car is not in the lot: coupons are given to cars in the lot only", "car_not_in_lot"
        )
    mine = [h for h in holdings.usable(car.lot_plate, now) if h.merchant_id == merchant.merchant_id]
    return CarView(car, len(mine))


def give(
    who: str, merchant: Merchant, batch_id: str, plate: str, confirm_second: bool, now: datetime
) -> Coupon:
    batch = get_or_none(Batch, batch_id, consistent=True)
    if batch is None or batch.merchant_id != merchant.merchant_id:
        raise NO_BATCH
    view = look_up(merchant, plate, now)
    if view.held_from_merchant and not confirm_second:
        raise Conflict(
            f"this car already holds {view.held_from_merchant} unused coupon(s) from you; "
            "give again with confirm_second=true",
            "already_holds_your_coupon",
        )
    return _issue(batch, merchant, view.car, person=view.car.plate, who=who, channel="given", now=now)


def claim(user_id: str, code: str, plate: str, now: datetime) -> Coupon:
    """A driver scans a merchant's or a campaign's QR code for a car of theirs in the lot."""
    clean = parking.clean_plate(plate)
    parking.require_plate_owner(user_id, clean)
    batch = next(iter(Batch.by_code.query(code, limit=1)), None)
    merchant = get_or_none(Merchant, batch.merchant_id) if batch is not None else None
    if batch is None or merchant is None:
        raise NotFound("no campaign for this code", "campaign_not_found")
    car = parking.car_in_lot(str(merchant.lot_id), clean, now)
    if car is None:
        raise Conflict("this car is not in the merchant's lot", "car_not_in_lot")
    return _issue(batch, merchant, car, person=user_id, who=user_id, channel="claimed", now=now)


def _issue(
    batch: Batch,
    merchant: Merchant,
    car: parking.CarInLot,
    *,
    person: str,
    who: str,
    channel: str,
    now: datetime,
) -> Coupon:
    if batch.source == ORDERED:  # paid → bought, never back: a stale read only refuses
        raise Conflict("this batch is not paid yet: nothing is given from it before", "batch_not_paid")
    day = now.astimezone(ZoneInfo(car.timezone)).date()
    cap = int(batch.cap_fen) if batch.cap_fen is not None else None
    hold = 0
    budget_key = None
    if batch.source == BUDGET:
        hold = rules.release_hold(cap, car.due_fen)
        if hold <= 0:
            raise Conflict(
                "nothing is due for this car yet; a release coupon would cover nothing", "nothing_due"
            )
        budget_key = reports.budget_key(
            merchant.merchant_id, rules.period_key(str(merchant.budget_period), day)
        )
        limit = int(merchant.budget_fen or 0)
        if hold > limit:
            raise BudgetExhausted(_budget_message(merchant, hold, _used(budget_key), limit))
        cap = hold
    coupon_id = sortable_id("cpn", now)
    coupon = Coupon(
        coupon_id,
        merchant_id=merchant.merchant_id,
        batch_id=batch.batch_id,
        operator_id=merchant.operator_id,
        lot_id=merchant.lot_id,
        lot_plate=car.lot_plate,
        plate=car.plate,
        kind=batch.kind,
        value=int(batch.value or 0),
        cap_fen=cap,
        status=GIVEN,
        channel=channel,
        given_by=who,
        given_at=now,
        given_day=day.isoformat(),
        expires_at=rules.expiry(now, int(batch.expires_hours)),
        hold_fen=hold,
        prepaid=True if batch.source == BOUGHT else None,
    )
    limits = rules.Limits(
        int(batch.quantity) if batch.quantity is not None else None,
        _opt(batch.per_person),
        _opt(batch.per_day),
        _opt(batch.per_person_per_day),
    )
    # A transaction's puts go before its updates (PynamoDB): the refusals are listed in that order.
    puts: list[DomainError] = []
    updates: list[DomainError] = []
    one_per_car = one_unused_per_car(str(merchant.lot_id))
    try:
        with transaction() as tx:
            tx.save(coupon, condition=Coupon.coupon_id.does_not_exist())
            puts.append(Conflict("try again", "busy"))
            if one_per_car:
                tx.save(
                    Counter(holdings.unused_marker(car.lot_plate), until=coupon.expires_at, ref=coupon_id),
                    condition=Counter.key.does_not_exist() | (Counter.until <= now),
                )
                puts.append(
                    Conflict(
                        "this car already holds an unused coupon (one per car at this lot)",
                        "one_unused_per_car",
                    )
                )
            total: Condition = Batch.merchant_id == merchant.merchant_id
            if limits.total is not None:
                total = total & (Batch.issued < limits.total)
            tx.update(batch, actions=[Batch.issued.add(1)], condition=total)
            updates.append(LimitReached("every coupon of this batch has been given", "batch_used_up"))
            for key, most in rules.limit_keys(batch.batch_id, limits, person, day):
                tx.update(
                    Counter(key),
                    actions=[Counter.n.add(1)],
                    condition=Counter.n.does_not_exist() | (Counter.n < most),
                )
                updates.append(LimitReached(_limit_message(key, most), "coupon_limit_reached"))
            if budget_key is not None:
                left = int(merchant.budget_fen or 0) - hold
                tx.update(
                    Counter(budget_key),
                    actions=[Counter.n.add(hold)],
                    condition=Counter.n.does_not_exist() | (Counter.n <= left),
                )
                updates.append(
                    BudgetExhausted(_budget_message(merchant, hold, None, int(merchant.budget_fen or 0)))
                )
            parking.note_coupon(tx, car)
            updates.append(Conflict("this car has just left the lot", "car_not_in_lot"))
    except TransactWriteError as exc:
        refusals = puts + updates
        for index, code in enumerate(cancellation_codes(exc)):
            if code == "ConditionalCheckFailed" and index < len(refusals):
                refusal = refusals[index]
                if isinstance(refusal, BudgetExhausted) and budget_key is not None:
                    limit = int(merchant.budget_fen or 0)
                    refusal = BudgetExhausted(_budget_message(merchant, hold, _used(budget_key), limit))
                raise refusal from exc
        raise
    return coupon


def _opt(value: object) -> int | None:
    return int(value) if value is not None else None  # type: ignore[call-overload]


def _used(key: str) -> int:
    item = get_or_none(Counter, key, consistent=True)
    return int(item.n or 0) if item is not None else 0


def _budget_message(merchant: Merchant, hold: int, used: int | None, limit: int) -> str:
    period = {"day": "today's", "week": "this week's", "month": "this month's"}.get(
        str(merchant.budget_period), "the"
    )
    left = f" ({max(0, limit - used)} fen left)" if used is not None else ""
    return (
        f"{period} budget for release coupons ({limit} fen) cannot cover this coupon's {hold} fen{left}; "
        "no release coupon can be given until the budget renews"
    )


def _limit_message(key: str, most: int) -> str:
    what = (
        "per person per day" if "#person-day#" in key else ("per person" if "#person#" in key else "per day")
    )
    return f"the batch's limit of {most} coupon(s) {what} is reached"
