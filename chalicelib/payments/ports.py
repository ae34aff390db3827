"""What payments offers the other contexts: the wallet, read, and moved inside the caller's own
transaction (charging's prepay hold and its settlement, a refund to the wallet); balances for the
ledger's check; a payment's refund counters and the provider's refund API (the refund workflow)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.ledger.ports import PaymentFact, WalletFact
from chalicelib.ledger.ports import wallet as wallet_account
from chalicelib.payments import sweeper, views
from chalicelib.payments.batch_purchases import COUPON_BATCH, Purchase, batch_key
from chalicelib.payments.batch_purchases import order as order_batch
from chalicelib.payments.channel import ProviderRefund as ProviderRefundNote
from chalicelib.payments.idempotency import key_of as idempotency_key
from chalicelib.payments.models import BOOKED, OVERPAID_SHARD, Payment, Wallet
from chalicelib.payments.prestore import FundsDebit
from chalicelib.payments.prestore import at_exit as exit_funds
from chalicelib.payments.prestore import balance_facts as prestore_facts
from chalicelib.payments.provider import ProviderRefund, ProviderRefused, ProviderUnavailable
from chalicelib.payments.refunding import refund, wechat_refund_notification
from chalicelib.payments.reservation_payments import RESERVATION, owe_back
from chalicelib.payments.reservation_payments import order as order_reservation
from chalicelib.payments.sandbox import SignatureError
from chalicelib.payments.wallet import WalletView, credit, debit, top_up, view
from chalicelib.payments.wallet_flows import TOP_UP, WALLET, top_ups_key
from chalicelib.shared.db import get_or_none

__all__ = [
    "COUPON_BATCH",
    "RESERVATION",
    "TOP_UP",
    "FundsDebit",
    "PaymentRefundable",
    "ProviderRefund",
    "ProviderRefundNote",
    "ProviderRefused",
    "ProviderUnavailable",
    "Purchase",
    "SignatureError",
    "WalletView",
    "batch_payment",
    "booked_top_ups",
    "clear_overpayment",
    "complete_refund",
    "confirmed_payments",
    "credit",
    "debit",
    "exit_funds",
    "idempotency_key",
    "open_overpayments",
    "order_batch",
    "order_reservation",
    "owe_back",
    "payment_refundable",
    "prestore_facts",
    "refund",
    "release_refund",
    "reserve_refund",
    "top_up",
    "view",
    "wallet_facts",
    "wechat_refund_notification",
]


def wallet_facts() -> Iterator[WalletFact]:
    """Every wallet's balance (the ledger's scheduled check; a scan, never on a request path)."""
    for wallet in Wallet.scan():
        yield WalletFact(str(wallet.user_id), int(wallet.balance_fen))


def confirmed_payments() -> Iterator[PaymentFact]:
    """Every payment a provider confirmed, or the wallet paid (the ledger's scheduled check)."""
    for payment in Payment.scan(Payment.status.is_in(*BOOKED)):
        yield PaymentFact(
            str(payment.payment_id),
            str(payment.provider),
            int(payment.amount_fen),
            int(payment.refunded_fen or 0),
            **_booking_of(payment),
        )


def _booking_of(payment: Payment) -> dict[str, str]:
    """Where a booking is other than `pay:<id>` from the provider's clearing (wallet_flows.py)."""
    if payment.purpose == TOP_UP:
        return {"booking_id": f"topup:{payment.payment_id}"}
    if payment.purpose == COUPON_BATCH:
        return {"booking_id": f"batch:{payment.payment_id}"}
    if payment.purpose == RESERVATION:
        return {"booking_id": f"resv:{payment.payment_id}"}
    if payment.provider == WALLET:
        return {"source_account": wallet_account(str(payment.user_id))}
    return {}


def batch_payment(batch_id: str, now: datetime) -> dict[str, Any] | None:
    """The newest payment of a bought coupon batch (a pending order at a real provider is asked
    about first, booked when paid there), as the API shows payments."""
    found = Payment.by_visit.query(batch_key(batch_id), scan_index_forward=False, limit=1)
    payment = next(iter(found), None)
    return views.payment(sweeper.refresh(payment, now)) if payment is not None else None


# ---------------------------------------------------------------------------------------------
# Refunds: a booked payment's refundable money, its counters and its open overpayment.


@dataclass(frozen=True)
class PaymentRefundable:
    payment_id: str
    user_id: str
    lot_id: str
    lot_plate: str
    visit_id: str
    provider: str
    provider_txn_id: str | None
    status: str
    amount_fen: int  # what the provider took (0 until it is booked)
    excess_fen: int  # of it, what the visit did not owe (a refund obligation)
    refunded_fen: int
    in_flight_fen: int
    created_at: datetime
    overpaid_open: bool  # no automatic refund was opened for its excess yet
    purpose: str | None = None  # None: a parking fee; wallet_top_up (withdrawn, not refunded as parking)


def _refundable(p: Payment) -> PaymentRefundable:
    return PaymentRefundable(
        str(p.payment_id),
        str(p.user_id),
        str(p.lot_id),
        str(p.lot_plate),
        str(p.visit_id),
        str(p.provider),
        p.provider_txn_id,
        str(p.status),
        int(p.amount_fen) if p.status in BOOKED else 0,
        int(p.excess_fen or 0),
        int(p.refunded_fen or 0),
        int(p.refund_in_flight_fen or 0),
        p.created_at,
        p.overpaid_shard is not None,
        p.purpose,
    )


def booked_top_ups(user_id: str, limit: int = 100) -> list[PaymentRefundable]:
    """A driver's booked wallet top-ups, newest first (a withdrawal goes back through them)."""
    found = Payment.by_visit.query(top_ups_key(user_id), scan_index_forward=False, limit=limit)
    return [_refundable(p) for p in found if p.purpose == TOP_UP and p.status in BOOKED]


def payment_refundable(payment_id: str) -> PaymentRefundable | None:
    """A payment's refund facts, read consistently (None when there is no such payment)."""
    payment = get_or_none(Payment, payment_id, consistent=True)
    return _refundable(payment) if payment is not None else None


def _unchanged(seen: PaymentRefundable) -> Condition:
    in_flight = Payment.refund_in_flight_fen == seen.in_flight_fen
    refunded = Payment.refunded_fen == seen.refunded_fen
    if seen.in_flight_fen == 0:
        in_flight = in_flight | Payment.refund_in_flight_fen.does_not_exist()
    if seen.refunded_fen == 0:
        refunded = refunded | Payment.refunded_fen.does_not_exist()
    return in_flight & refunded & Payment.status.is_in(*BOOKED)


def reserve_refund(
    tx: TransactWrite, seen: PaymentRefundable, amount_fen: int, *, overpayment: bool = False
) -> None:
    """Count `amount_fen` in flight, as an item of the refund's transaction (conditional on the
    counters read in `seen`). `overpayment`: the automatic refund of its excess, which also takes
    the payment off the open-overpayment index (so it is opened once)."""
    actions: list[Action] = [
        Payment.refund_in_flight_fen.set(seen.in_flight_fen + amount_fen),
        Payment.refunded_fen.set(seen.refunded_fen),
    ]
    condition = _unchanged(seen)
    if overpayment:
        actions.append(Payment.overpaid_shard.remove())
        condition = condition & Payment.overpaid_shard.exists()
    tx.update(Payment(seen.payment_id), actions=actions, condition=condition)


def complete_refund(tx: TransactWrite, payment_id: str, amount_fen: int) -> None:
    """The reserved amount was paid back: out of flight, into refunded."""
    tx.update(
        Payment(payment_id),
        actions=[Payment.refund_in_flight_fen.add(-amount_fen), Payment.refunded_fen.add(amount_fen)],
        condition=Payment.refund_in_flight_fen >= amount_fen,
    )


def release_refund(tx: TransactWrite, payment_id: str, amount_fen: int) -> None:
    """The reserved amount will not be paid (rejected): out of flight."""
    tx.update(
        Payment(payment_id),
        actions=[Payment.refund_in_flight_fen.add(-amount_fen)],
        condition=Payment.refund_in_flight_fen >= amount_fen,
    )


def open_overpayments(limit: int = 100) -> list[PaymentRefundable]:
    """Booked payments whose excess no automatic refund was opened for yet, oldest first."""
    return [_refundable(p) for p in Payment.overpaid_open.query(OVERPAID_SHARD, limit=limit)]


def clear_overpayment(payment_id: str) -> None:
    """Take a payment off the open-overpayment index when nothing of its excess is left to refund
    automatically (a driver's or customer service's refund took it)."""
    with contextlib.suppress(UpdateError):
        Payment(payment_id).update(
            actions=[Payment.overpaid_shard.remove()], condition=Payment.overpaid_shard.exists()
        )
