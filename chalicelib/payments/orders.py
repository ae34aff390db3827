"""Payments: created from a quote for exactly its amount, applied once when the provider's signed
notification arrives, and then the car waiting at an exit is let out (through parking's ports;
payments never reads parking's tables)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError

from chalicelib.parking import ports as parking
from chalicelib.payments import provider
from chalicelib.payments.contract import PaymentIn
from chalicelib.payments.models import PAID, PENDING, Payment
from chalicelib.payments.sandbox import Notification
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.shared.db import failed_condition, get_or_none, get_owned, transaction
from chalicelib.shared.errors import Conflict, Gone, Invalid, NotFound, Unprocessable
from chalicelib.shared.money import format_yuan


@dataclass
class Created:
    payment: Payment
    provider_order: dict[str, Any]


APPLIED = "applied"
ALREADY_APPLIED = "already_applied"
NOT_SUCCESS = "not_success"


@dataclass
class Applied:
    payment: Payment
    applied: bool
    released: list[OutgoingCommand] = field(default_factory=list)
    # applied | already_applied (this payment was applied before) | not_success (the provider
    # reports a trade that did not succeed: nothing is applied)
    outcome: str = APPLIED


def create(user_id: str, asked: PaymentIn, now: datetime) -> Created:
    quote_id, amount_fen, method = asked.quote_id, asked.amount_fen, asked.method
    if method not in provider.METHODS:
        raise Invalid(f"method must be one of {', '.join(provider.METHODS)}", "unsupported_method")
    quote = parking.payable_quote(user_id, quote_id)
    if now > quote.expires_at:
        raise Gone("this quote has expired; ask for a new one", "quote_expired")
    if quote.due_fen == 0:
        raise Conflict("nothing is due on this quote", "nothing_due")
    if amount_fen != quote.due_fen:
        raise Unprocessable(
            f"the quote is for {quote.due_fen} fen ({format_yuan(quote.due_fen)} yuan), "
            f"not {amount_fen} fen; pay exactly the quoted amount",
            "amount_mismatch",
        )
    payment = Payment(
        "p-" + quote.quote_id.removeprefix("q-"),
        quote_id=quote.quote_id,
        user_id=user_id,
        lot_id=quote.lot_id,
        lot_plate=quote.lot_plate,
        visit_id=quote.visit_id,
        plate=quote.plate,
        amount_fen=amount_fen,
        provider=str(method),
        method=str(method),
        source="driver_api",
        status=PENDING,
        priced_until=quote.priced_until,
        created_at=now,
    )
    try:
        payment.save(condition=Payment.payment_id.does_not_exist())
    except PutError:
        # Asking again to pay the same quote gives the same payment.
        payment = Payment.get(payment.payment_id)
    order = provider.provider_order(payment.payment_id, amount_fen, f"停车费 {quote.plate}")
    return Created(payment, order)


def get_own(user_id: str, payment_id: str) -> Payment:
    return get_owned(
        Payment,
        payment_id,
        owner=("user_id", user_id),
        missing=NotFound("no such payment", "payment_not_found"),
    )


def of_lot(lot_id: str, limit: int = 500) -> list[Payment]:
    return list(Payment.by_lot.query(lot_id, scan_index_forward=False, limit=limit))


def apply_notification(note: Notification, now: datetime) -> Applied:
    payment = get_or_none(Payment, note.out_trade_no, consistent=True)
    if payment is None:
        raise NotFound(f"unknown order {note.out_trade_no}", "unknown_order")
    if note.amount_fen != int(payment.amount_fen):
        raise Conflict(
            f"notified amount {note.amount_fen} fen differs from the order's {int(payment.amount_fen)} fen",
            "amount_mismatch",
        )
    if payment.status == PAID:
        return _already_applied(payment, now)
    if note.trade_state != "SUCCESS":
        return Applied(payment, applied=False, outcome=NOT_SUCCESS)
    try:
        with transaction() as tx:
            tx.update(
                payment,
                actions=[
                    Payment.status.set(PAID),
                    Payment.provider_txn_id.set(note.transaction_id),
                    Payment.paid_at.set(now),
                ],
                condition=Payment.status == PENDING,
            )
            parking.add_payment_to_visit(
                tx, payment.lot_plate, payment.visit_id, int(payment.amount_fen), payment.priced_until, now
            )
    except TransactWriteError as error:
        if failed_condition(error, index=0):
            current = Payment.get(payment.payment_id, consistent_read=True)
            if current.status == PAID:
                return _already_applied(current, now)
            raise Conflict(
                f"payment {payment.payment_id} is {current.status}", "payment_not_pending"
            ) from error
        raise
    payment.refresh(consistent_read=True)
    return Applied(
        payment, applied=True, released=parking.release_paid_car(payment.lot_plate, payment.visit_id, now)
    )


def _already_applied(payment: Payment, now: datetime) -> Applied:
    """A repeated notification of a payment applied before. Its release is asked again: when the
    first attempt committed the payment and then failed (a read, a throttle) before letting the
    waiting car out, the provider's retry is what lets it out (release is idempotent: only a car
    still waiting with nothing due is released, once)."""
    released = parking.release_paid_car(payment.lot_plate, payment.visit_id, now)
    return Applied(payment, applied=False, released=released, outcome=ALREADY_APPLIED)
