"""Payments: created from a quote for exactly its amount, applied once when the provider's signed
notification arrives, and then the car waiting at an exit is let out (through parking's ports;
payments never reads parking's tables)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import msgspec
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import (
    batch_purchases,
    checkout,
    idempotency,
    reservation_payments,
    wallet,
    wallet_flows,
)
from chalicelib.payments.contract import PaymentIn
from chalicelib.payments.models import (
    BOOKED,
    CLOSED,
    OVERPAID_SHARD,
    PAID,
    PENDING,
    REFUND_DUE,
    Payment,
)
from chalicelib.payments.sandbox import Notification
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.shared.db import failed_condition, get_or_none, get_owned, transaction
from chalicelib.shared.errors import Conflict, Gone, NotFound, Unprocessable
from chalicelib.shared.money import format_yuan
from chalicelib.shared.settings import get_settings
from chalicelib.shared.timeutil import iso


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


def create(user_id: str, asked: PaymentIn, now: datetime, idempotency_key: str | None = None) -> Created:
    """A payment of the quote's exact amount with `asked.method`, and its order at the provider.
    With an idempotency key, a retry of the same request is the same payment (idempotency.py)."""
    quote_id, amount_fen = asked.quote_id, asked.amount_fen
    method = checkout.check_method(asked.method, asked.payer_id)
    digest = idempotency.digest_of(msgspec.structs.asdict(asked))
    replayed = idempotency.replayed(user_id, idempotency_key, digest) if idempotency_key else None
    if replayed is not None:
        return _replay(get_own(user_id, replayed), asked, now)
    quote = parking.payable_quote(user_id, quote_id)
    if now > quote.expires_at:
        raise Gone("this quote has expired; ask for a new one", "quote_expired")
    if not quote.current:
        raise Conflict("a newer quote replaced this one; pay the newest quote", "quote_superseded")
    if quote.due_fen == 0:
        raise Conflict("nothing is due on this quote", "nothing_due")
    if amount_fen != quote.due_fen:
        raise Unprocessable(
            f"the quote is for {quote.due_fen} fen ({format_yuan(quote.due_fen)} yuan), "
            f"not {amount_fen} fen; pay exactly the quoted amount",
            "amount_mismatch",
        )
    checkout.check_site(method, quote.lot_id)
    if method == checkout.WALLET:
        wallet_flows.check_balance(user_id, amount_fen)
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
        expires_at=quote.expires_at,
        pending_shard=checkout.pending_shard(method),
    )
    try:
        payment.save(condition=Payment.payment_id.does_not_exist())
    except PutError:
        # Asking again to pay the same quote gives the same payment.
        payment = Payment.get(payment.payment_id)
    if idempotency_key:
        idempotency.bind(user_id, idempotency_key, digest, payment.payment_id, now)
    close_superseded(payment, now)
    return _replay(payment, asked, now)


def _pay_from_wallet(payment: Payment, now: datetime) -> None:
    """Booked at once, as a provider's notification is, with the wallet's debit in the same
    transaction (and the waiting car let out). A balance spent meanwhile closes the payment."""
    note = Notification(
        out_trade_no=str(payment.payment_id),
        transaction_id=f"wallet-{payment.payment_id}",
        amount_fen=int(payment.amount_fen),
        trade_state="SUCCESS",
        success_time=iso(now),
    )
    user, amount = str(payment.user_id), int(payment.amount_fen)
    try:
        apply_notification(note, now, also=lambda tx: wallet.debit(tx, user, amount, now))
    except Conflict as refused:
        if refused.code != "insufficient_balance":
            raise
        with contextlib.suppress(UpdateError):
            payment.update(
                actions=[Payment.status.set(CLOSED), Payment.closed_at.set(now)],
                condition=Payment.status == PENDING,
            )
        raise
    payment.refresh(consistent_read=True)


def _replay(payment: Payment, asked: PaymentIn, now: datetime) -> Created:
    """The payment with its order at the provider (asked again: the provider answers the same
    order); a payment no longer pending has no order to pay."""
    if payment.method != asked.method:
        raise Conflict(
            f"this quote is being paid with {payment.method}; ask a new quote to pay with {asked.method}",
            "payment_method_differs",
        )
    if payment.status != PENDING:
        return Created(payment, {"out_trade_no": payment.payment_id, "status": payment.status})
    if payment.expires_at is not None and now > payment.expires_at:
        raise Gone("this payment's quote has expired; ask for a new one", "quote_expired")
    if payment.provider == checkout.WALLET:
        _pay_from_wallet(payment, now)
        return Created(payment, {"out_trade_no": payment.payment_id, "status": payment.status})
    return Created(payment, checkout.order_for(payment, asked.payer_id, now))


def close_superseded(current: Payment, now: datetime) -> int:
    """One payable amount per visit: the visit's other pending orders are closed (a provider that
    still reports one as paid gets it booked all the same, see `apply_notification`)."""
    closed = 0
    for other in Payment.by_visit.query(current.visit_id):
        if other.payment_id == current.payment_id or other.status != PENDING:
            continue
        try:
            other.update(
                actions=[Payment.status.set(CLOSED), Payment.closed_at.set(now)],
                condition=Payment.status == PENDING,
            )
            closed += 1
        except UpdateError:
            continue
    return closed


def get_own(user_id: str, payment_id: str) -> Payment:
    return get_owned(
        Payment,
        payment_id,
        owner=("user_id", user_id),
        missing=NotFound("no such payment", "payment_not_found"),
    )


def of_lot(lot_id: str, limit: int = 500) -> list[Payment]:
    return list(Payment.by_lot.query(lot_id, scan_index_forward=False, limit=limit))


def apply_notification(
    note: Notification,
    now: datetime,
    also: Callable[[TransactWrite], None] | None = None,
    provider: str | None = None,
) -> Applied:
    """A provider's confirmed payment, booked exactly once with its journal posting. On time (the
    order pending, its quote valid and still the visit's payable one) it pays the quote and starts
    the grace window; otherwise (superseded, closed, expired) the money still counts for what the
    visit owes now. Whatever exceeds what the visit owes becomes an open refund obligation."""
    payment = get_or_none(Payment, note.out_trade_no, consistent=True)
    if payment is None:
        raise NotFound(f"unknown order {note.out_trade_no}", "unknown_order")
    if note.amount_fen != int(payment.amount_fen):
        raise Conflict(
            f"notified amount {note.amount_fen} fen differs from the order's {int(payment.amount_fen)} fen",
            "amount_mismatch",
        )
    if payment.status in BOOKED:
        return _already_applied(payment, now)
    if note.trade_state != "SUCCESS":
        return Applied(payment, applied=False, outcome=NOT_SUCCESS)
    if provider is not None and payment.provider != provider:
        raise Conflict(f"order {payment.payment_id} is not a {provider} payment", "provider_mismatch")
    if payment.provider == checkout.WALLET and also is None:
        # no provider's notification books a fee paid from the wallet: only its own debit does
        raise Conflict(f"order {payment.payment_id} is paid from the wallet", "provider_mismatch")
    book = {
        wallet_flows.TOP_UP: wallet_flows.book_top_up,
        batch_purchases.COUPON_BATCH: batch_purchases.book,
        reservation_payments.RESERVATION: reservation_payments.book,
    }
    if payment.purpose in book:  # not a parking fee: booked by its purpose's own flow
        booked = book[payment.purpose](payment, note, now)
        payment.refresh(consistent_read=True)
        return Applied(payment, applied=booked, outcome=APPLIED if booked else ALREADY_APPLIED)
    amount = int(payment.amount_fen)
    for _ in range(5):
        # orders created before they carried their quote's expiry: the quote's usual validity
        expires = payment.expires_at or payment.created_at + timedelta(
            minutes=get_settings().quote_ttl_minutes
        )
        owing = parking.visit_owing(payment.lot_plate, payment.visit_id, now)
        on_time = (
            payment.status == PENDING
            and now <= expires
            and owing.status == "inside"
            and owing.quote_id in (None, payment.quote_id)
        )
        if on_time:
            # with the merchant coupons its quote chose, those still unused (re-read on every try)
            owing = parking.visit_owing(
                payment.lot_plate, payment.visit_id, payment.priced_until, payment.quote_id, now
            )
        split = ledger.split_payment(amount, owing.owed_fen)
        coupon_puts = 0  # the coupons' postings: puts, sent before the updates (the wallet's index)
        try:
            with transaction() as tx:
                tx.update(
                    payment,
                    actions=[
                        Payment.status.set(PAID if split.applied_fen else REFUND_DUE),
                        Payment.provider_txn_id.set(note.transaction_id),
                        Payment.paid_at.set(now),
                        Payment.applied_fen.set(split.applied_fen),
                        Payment.excess_fen.set(split.excess_fen),
                        Payment.on_time.set(on_time),
                        *([Payment.overpaid_shard.set(OVERPAID_SHARD)] if split.excess_fen else []),
                    ],
                    condition=Payment.status == payment.status,
                )
                parking.add_payment_to_visit(
                    tx,
                    payment.lot_plate,
                    owing,
                    split.applied_fen,
                    split.excess_fen,
                    (now, payment.priced_until) if on_time else None,
                )
                ledger.add(
                    tx,
                    ledger.parking_payment(
                        payment.payment_id,
                        provider=str(payment.provider),
                        lot_id=payment.lot_id,
                        operator_id=owing.operator_id,
                        visit_id=payment.visit_id,
                        split=split,
                        at=now,
                        on_time=on_time,
                        source=ledger.wallet(str(payment.user_id))
                        if payment.provider == checkout.WALLET
                        else None,
                    ),
                    owing.timezone,
                )
                if also is not None:
                    also(tx)  # the wallet's debit of a fee paid from it
                coupon_puts = parking.use_visit_coupons(tx, payment.lot_plate, owing, payment.payment_id, now)
        except TransactWriteError as error:
            # items as sent (PynamoDB sends puts before updates): the posting, the coupons'
            # postings, then the payment, the visit, the wallet's debit, the coupons
            if also is not None and failed_condition(error, index=3 + coupon_puts):
                raise Conflict("the wallet no longer holds the fee", "insufficient_balance") from error
            if failed_condition(error, index=0) or failed_condition(error, index=1 + coupon_puts):
                payment.refresh(consistent_read=True)
                if payment.status in BOOKED:
                    return _already_applied(payment, now)
                continue  # closed meanwhile: book it as late
            if failed_condition(error, index=2 + coupon_puts):
                continue  # another payment or the exit changed the visit: split again
            if failed_condition(error):
                # a coupon of the quote was used meanwhile (its items follow the others of their
                # kind): read again, priced again without it
                payment.refresh(consistent_read=True)
                if payment.status in BOOKED:
                    return _already_applied(payment, now)
                continue
            raise
        payment.refresh(consistent_read=True)
        return Applied(
            payment, applied=True, released=parking.release_paid_car(payment.lot_plate, payment.visit_id, now)
        )
    raise Conflict("the visit kept changing; the provider will notify again", "busy")


def _already_applied(payment: Payment, now: datetime) -> Applied:
    """A repeated notification of a payment applied before. Its release is asked again: when the
    first attempt committed the payment and then failed (a read, a throttle) before letting the
    waiting car out, the provider's retry is what lets it out (release is idempotent: only a car
    still waiting with nothing due is released, once)."""
    released = parking.release_paid_car(payment.lot_plate, payment.visit_id, now)
    return Applied(payment, applied=False, released=released, outcome=ALREADY_APPLIED)
