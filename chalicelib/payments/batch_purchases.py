"""A merchant buying a batch of coupons through a provider: a payment whose purpose is
`coupon_batch`, paid into the merchant account of the merchant's lot, booked as a wallet top-up
is (on the provider's notification, a status query or the sweep: `orders.apply_notification`),
once, in one transaction: the payment paid, the batch made available (coupons.ports), and the
posting `batch:<payment id>`, `provider_clearing:<p>` +A, `merchant_prepaid:<merchant>` −A.

A payment that fails or is closed books nothing: the batch stays ordered and gives nothing. A
batch paid after its order was closed is booked all the same: the money is real."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.coupons import ports as coupons
from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import checkout, views
from chalicelib.payments.models import Payment
from chalicelib.payments.sandbox import Notification
from chalicelib.shared.errors import Invalid
from chalicelib.shared.ids import sortable_id

COUPON_BATCH = "coupon_batch"
MAX_PRICE_FEN = 10_000_000  # 100 000 yuan per batch


def batch_key(batch_id: str) -> str:
    """A batch's payment stands on the by-visit index under this key."""
    return f"batch:{batch_id}"


@dataclass(frozen=True)
class Purchase:
    batch_id: str
    payment: dict[str, Any]  # the payment's view
    provider_order: dict[str, Any] | None


def order(
    user_id: str,
    *,
    merchant_id: str,
    lot_id: str,
    amount_fen: int,
    method: str,
    payer_id: str | None,
    fields: dict[str, Any],
    new_batch: Callable[[str], str],
    now: datetime,
    idempotency_key: str | None = None,
) -> Purchase:
    """The batch's payment at the provider of the lot's merchant account. `new_batch(payment_id)`
    writes the ordered batch and gives its id; with an idempotency key a retry of the same order
    is the same batch and payment (nothing new written)."""
    if method == checkout.WALLET:
        raise Invalid("a batch is paid with sandbox, wechat or alipay", "unsupported_method")
    checkout.check_method(method, payer_id)
    if not 0 < amount_fen <= MAX_PRICE_FEN:
        raise Invalid(f"a batch costs 1 to {MAX_PRICE_FEN} fen", "invalid_amount")
    checkout.check_site(method, lot_id)

    def make() -> Payment:
        payment_id = sortable_id("cb", now)
        batch_id = new_batch(payment_id)
        return checkout.purpose_payment(
            payment_id,
            purpose=COUPON_BATCH,
            key=batch_key(batch_id),
            quote_id=batch_id,
            lot_plate=f"merchant#{merchant_id}",
            user_id=user_id,
            lot_id=lot_id,
            amount_fen=amount_fen,
            method=method,
            source="merchant_api",
            now=now,
        )

    request = {**fields, "method": method, "payer_id": payer_id}
    payment = checkout.new_or_replayed(user_id, idempotency_key, request, make, now)
    pay = checkout.order_for(payment, payer_id, now) if payment.status == "pending" else None
    return Purchase(str(payment.quote_id), views.payment(payment), pay)


def book(payment: Payment, note: Notification, now: datetime) -> bool:
    """A paid batch: the payment paid, the batch available, the posting, once (False: it was
    booked before)."""
    amount = int(payment.amount_fen)

    def write(tx: TransactWrite) -> None:
        tx.update(
            payment,
            actions=checkout.paid_in_full(
                payment, note, now, payment.expires_at is None or now <= payment.expires_at
            ),
            condition=Payment.status == payment.status,
        )
        batch = coupons.batch_paid(tx, str(payment.quote_id), str(payment.payment_id), now)
        ledger.add(
            tx,
            ledger.coupon_batch_bought(
                str(payment.payment_id),
                batch_id=batch.batch_id,
                merchant_id=batch.merchant_id,
                provider=str(payment.provider),
                lot_id=batch.lot_id,
                operator_id=batch.operator_id,
                amount_fen=amount,
                at=now,
            ),
            parking.lot_timezone(batch.lot_id),
        )

    # the batch's condition failing (item 2): it was made available by another delivery
    return checkout.book_once(payment, write, other_failed="booked")
