"""Payments: created from a quote for exactly its amount, applied once when the provider's signed
notification arrives, and then the car waiting at an exit is let out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.domain.money import format_yuan, require_fen
from chalicelib.errors import BadRequest, Conflict, Gone, NotFound, Unprocessable
from chalicelib.models.base import connection
from chalicelib.models.payments import PAID, PENDING, Payment
from chalicelib.models.visits import INSIDE, Visit
from chalicelib.payments import provider
from chalicelib.payments.sandbox import Notification
from chalicelib.services import commands, config, pricing, quotes
from chalicelib.services.commands import OutgoingCommand
from chalicelib.services.gate import close_actions


@dataclass
class Created:
    payment: Payment
    provider_order: dict[str, Any]


@dataclass
class Applied:
    payment: Payment
    applied: bool
    released: list[OutgoingCommand] = field(default_factory=list)


def create(user_id: str, quote_id: object, amount: object, method: object, now: datetime) -> Created:
    if not isinstance(quote_id, str) or not quote_id:
        raise BadRequest("quote_id is required", "invalid_quote_id")
    try:
        amount_fen = require_fen(amount)
    except ValueError as exc:
        raise BadRequest(str(exc), "invalid_amount") from exc
    if method not in provider.METHODS:
        raise BadRequest(f"method must be one of {', '.join(provider.METHODS)}", "unsupported_method")
    quote = quotes.get_own(user_id, quote_id)
    if now > quote.expires_at:
        raise Gone("this quote has expired; ask for a new one", "quote_expired")
    if int(quote.due_fen) == 0:
        raise Conflict("nothing is due on this quote", "nothing_due")
    if amount_fen != int(quote.due_fen):
        raise Unprocessable(
            f"the quote is for {int(quote.due_fen)} fen ({format_yuan(int(quote.due_fen))} yuan), "
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
    try:
        payment = Payment.get(payment_id)
    except Payment.DoesNotExist:
        payment = None
    if payment is None or payment.user_id != user_id:
        raise NotFound("no such payment", "payment_not_found")
    return payment


def apply_notification(note: Notification, now: datetime) -> Applied:
    try:
        payment = Payment.get(note.out_trade_no, consistent_read=True)
    except Payment.DoesNotExist as exc:
        raise NotFound(f"unknown order {note.out_trade_no}", "unknown_order") from exc
    if note.amount_fen != int(payment.amount_fen):
        raise Conflict(
            f"notified amount {note.amount_fen} fen differs from the order's {int(payment.amount_fen)} fen",
            "amount_mismatch",
        )
    if note.trade_state != "SUCCESS" or payment.status == PAID:
        return Applied(payment, applied=False)
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                payment,
                actions=[
                    Payment.status.set(PAID),
                    Payment.provider_txn_id.set(note.transaction_id),
                    Payment.paid_at.set(now),
                ],
                condition=Payment.status == PENDING,
            )
            tx.update(
                Visit(payment.lot_plate, payment.visit_id),
                actions=[
                    Visit.paid_fen.add(int(payment.amount_fen)),
                    Visit.paid_at.set(now),
                    Visit.priced_until.set(payment.priced_until),
                ],
                condition=Visit.visit_id.exists(),
            )
    except TransactWriteError as error:
        reasons = error.cancellation_reasons or []
        if reasons and reasons[0] is not None and reasons[0].code == "ConditionalCheckFailed":
            return Applied(Payment.get(payment.payment_id, consistent_read=True), applied=False)
        raise
    payment.refresh(consistent_read=True)
    return Applied(
        payment, applied=True, released=release_waiting_car(payment.lot_plate, payment.visit_id, now)
    )


def release_waiting_car(lot_plate: str, visit_id: str, now: datetime) -> list[OutgoingCommand]:
    """A car waiting at an exit whose fee is now settled: open that exit and close the visit."""
    try:
        visit = Visit.get(lot_plate, visit_id, consistent_read=True)
    except Visit.DoesNotExist:
        return []
    if visit.status != INSIDE or not visit.waiting_exit_device_id or not visit.waiting_exit_lane_id:
        return []
    lot = config.lot(visit.lot_id)
    if lot is None:
        return []
    recent = pricing.earlier_visits(visit.lot_id, visit.plate)
    earlier = [v for v in recent if v.visit_id < visit.visit_id]
    decision = pricing.exit_decision(visit, lot, now, earlier).decision
    if not decision.open_gate:
        return []
    device_id, lane_id = visit.waiting_exit_device_id, visit.waiting_exit_lane_id
    outgoing = [
        commands.open_gate(device_id, lane_id, visit.visit_id, now),
        commands.display(device_id, decision.display, now),
    ]
    try:
        with TransactWrite(connection=connection()) as tx:
            tx.update(
                visit,
                actions=close_actions(decision.fee, lane_id, device_id, now),
                condition=(Visit.status == INSIDE) & (Visit.waiting_exit_device_id == device_id),
            )
            for command in outgoing:
                tx.save(command.record(now))
    except TransactWriteError:
        return []  # someone else closed the visit first (the car re-captured at the exit)
    commands.publish(outgoing)
    return outgoing
