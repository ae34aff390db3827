"""Pending orders at WeChat Pay / Alipay settled by asking the provider: a driver's status query
(`GET /v1/driver/payments/{id}`) asks about a pending order, and the sweeper (every five minutes)
takes each order past its quote's expiry: paid at the provider → booked as its notification
would be (once: `orders.apply_notification`), otherwise closed at the provider and here.

The query answer is as trustworthy as a notification: it is the answer to our own signed call,
its signature verified by the adapter, and checked against our merchant account. A provider that
refuses to close (the driver paid just now) leaves the order pending for the next run, which
finds it paid; a provider that does not know the order (never opened at the cashier) closes it
here only."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from chalicelib.payments import channels, orders
from chalicelib.payments.channel import ProviderFailed, ProviderPayment, ProviderRefused
from chalicelib.payments.models import CLOSED, PENDING, PENDING_SHARD, Payment
from chalicelib.shared.errors import DomainError
from chalicelib.shared.observability import logger

GRACE = timedelta(minutes=1)  # a notification sent at the expiry has this long to arrive first
BATCH = 100
BOOKED, CLOSED_NOW, STILL_PENDING, FAILED, CLEARED = "booked", "closed", "pending", "failed", "cleared"


def _ask(payment: Payment) -> ProviderPayment | None:
    """The order as the provider knows it; None when it knows no such order."""
    try:
        return channels.query(payment)
    except ProviderRefused:
        return None


def _off_the_index(payment: Payment) -> None:
    with contextlib.suppress(UpdateError):
        payment.update(actions=[Payment.pending_shard.remove()], condition=Payment.pending_shard.exists())


def settle(payment: Payment, now: datetime, *, close_unpaid: bool) -> str:
    """Ask the provider about a pending order: book it when paid; when `close_unpaid`, close it
    otherwise (at the provider, then here)."""
    answer = _ask(payment)
    if answer is not None and answer.paid:
        orders.apply_notification(answer.notification(), now)
        _off_the_index(payment)
        return BOOKED
    if not close_unpaid:
        return STILL_PENDING
    if answer is not None:
        try:
            channels.close(payment)
        except ProviderRefused:
            return STILL_PENDING  # paid meanwhile (ORDERPAID): the next run books it
    try:
        payment.update(
            actions=[Payment.status.set(CLOSED), Payment.closed_at.set(now), Payment.pending_shard.remove()],
            condition=Payment.status == PENDING,
        )
    except UpdateError:
        _off_the_index(payment)  # booked by a notification meanwhile
    return CLOSED_NOW


def refresh(payment: Payment, now: datetime) -> Payment:
    """A driver asks: a pending order at a real provider is asked about (booked when paid). A
    provider that cannot answer now leaves what we know."""
    if payment.status != PENDING or payment.provider not in channels.METHODS:
        return payment
    try:
        settle(payment, now, close_unpaid=False)
    except (ProviderFailed, ProviderRefused) as exc:
        logger.info("provider not asked", extra={"payment_id": payment.payment_id, "error": str(exc)})
        return payment
    payment.refresh(consistent_read=True)
    return payment


def sweep(now: datetime, limit: int = BATCH) -> dict[str, int]:
    """Every pending order past its quote's expiry (and the grace), booked or closed."""
    counts = {BOOKED: 0, CLOSED_NOW: 0, STILL_PENDING: 0, FAILED: 0, CLEARED: 0}
    due = Payment.pending_open.query(PENDING_SHARD, Payment.expires_at < now - GRACE, limit=limit)
    for payment in due:
        if payment.status != PENDING:
            _off_the_index(payment)
            counts[CLEARED] += 1
            continue
        try:
            counts[settle(payment, now, close_unpaid=True)] += 1
        except DomainError as exc:  # provider down, a mismatch: logged, tried again next run
            logger.warning(
                "pending order not settled", extra={"payment_id": payment.payment_id, "error": str(exc)}
            )
            counts[FAILED] += 1
    return counts
