"""How a driver's payment is paid: the methods a payment can be created with, the site's merchant
account checked before anything is written, and the order at the provider with what the
mini-program needs to pay it (WeChat Pay: the signed `wx.requestPayment` bundle; Alipay: the
`trade_no` for `my.tradePay`; the sandbox: the order number)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.payments import channels, idempotency, merchants, provider
from chalicelib.payments.models import BOOKED, PAID, PENDING, PENDING_SHARD, Payment
from chalicelib.payments.sandbox import Notification
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, DomainError, Invalid, Unprocessable
from chalicelib.shared.settings import get_settings
from chalicelib.shared.timeutil import iso

SANDBOX = "sandbox"
WALLET = "wallet"  # the driver's balance (wallet_flows.py)
METHODS = (*provider.METHODS, *channels.METHODS, WALLET)
PAYER_NAMES = {merchants.WECHAT: "the payer's WeChat openid", merchants.ALIPAY: "the payer's Alipay buyer_id"}


def check_method(method: str, payer_id: str | None) -> str:
    """The method, known, with the payer a provider needs (422 `payer_required`)."""
    if method not in METHODS:
        raise Invalid(f"method must be one of {', '.join(METHODS)}", "unsupported_method")
    if method in channels.METHODS and not payer_id:
        raise Unprocessable(f"a {method} payment needs payer_id: {PAYER_NAMES[method]}", "payer_required")
    return method


def check_site(method: str, lot_id: str) -> None:
    """A site without a merchant account for the method refuses (409 `no_merchant_account`)."""
    if method in channels.METHODS:
        channels.require_account(method, merchants.LOT, lot_id)


def pending_shard(method: str) -> str | None:
    """Orders at a real provider go on the sweeper's index (the sandbox has no query API)."""
    return PENDING_SHARD if method in channels.METHODS else None


def description(payment: Payment) -> str:
    return {"wallet_top_up": "钱包充值", "coupon_batch": "商家券", "reservation": "付费预约"}.get(
        str(payment.purpose), f"停车费 {payment.plate}"
    )


def order_for(payment: Payment, payer_id: str | None, now: datetime) -> dict[str, Any]:
    """The payment's order at its provider. Asking again for the same payment is the same order
    (same order number, amount and expiry: each provider answers with the order it has)."""
    expires_at = payment.expires_at or now
    if payment.provider == SANDBOX:
        order = provider.provider_order(payment.payment_id, int(payment.amount_fen), description(payment))
    else:
        order = channels.provider_order(
            str(payment.provider),
            site_kind=merchants.LOT,
            site_id=str(payment.lot_id),
            out_trade_no=str(payment.payment_id),
            amount_fen=int(payment.amount_fen),
            description=description(payment),
            payer_id=str(payer_id),
            expires_at=expires_at,
            now=now,
        )
    return {**order, "time_expire": iso(expires_at)}


def purpose_payment(
    payment_id: str,
    *,
    purpose: str,
    key: str,
    quote_id: str,
    lot_plate: str,
    user_id: str,
    lot_id: str,
    amount_fen: int,
    method: str,
    source: str,
    now: datetime,
) -> Payment:
    """A pending payment that is not a parking fee (a wallet top-up, a coupon batch): `key` stands
    on the by-visit index for what it pays; its order is valid as long as a quote is."""
    return Payment(
        payment_id,
        quote_id=quote_id,
        user_id=user_id,
        lot_id=lot_id,
        lot_plate=lot_plate,
        visit_id=key,
        plate="",
        amount_fen=amount_fen,
        provider=method,
        method=method,
        source=source,
        status=PENDING,
        priced_until=now,
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().quote_ttl_minutes),
        pending_shard=pending_shard(method),
        purpose=purpose,
    )


def new_or_replayed(
    user_id: str,
    idempotency_key: str | None,
    fields: dict[str, Any],
    make: Callable[[], Payment],
    now: datetime,
    refused: DomainError | None = None,
) -> Payment:
    """A purpose payment created once per request: with an `Idempotency-Key`, a retry of the same
    request (`fields`) answers the payment it created, also once booked; otherwise `make()` is
    saved (unless `refused`: why no new one may be made) and the key bound to it before any order
    is placed, so a key bound meanwhile refuses it."""
    digest = idempotency.digest_of(fields)
    replayed = idempotency.replayed(user_id, idempotency_key, digest) if idempotency_key else None
    payment = get_or_none(Payment, replayed, consistent=True) if replayed else None
    if payment is not None:
        return payment
    if refused is not None:
        raise refused
    payment = make()
    payment.save(condition=Payment.payment_id.does_not_exist())
    if idempotency_key:
        idempotency.bind(user_id, idempotency_key, digest, payment.payment_id, now)
    return payment


def paid_in_full(payment: Payment, note: Notification, now: datetime, on_time: bool = True) -> list[Any]:
    """The update actions of a payment booked whole for its purpose (nothing owed back)."""
    return [
        Payment.status.set(PAID),
        Payment.provider_txn_id.set(note.transaction_id),
        Payment.paid_at.set(now),
        Payment.applied_fen.set(int(payment.amount_fen)),
        Payment.excess_fen.set(0),
        Payment.on_time.set(on_time),
    ]


def book_once(
    payment: Payment,
    write: Callable[[TransactWrite], None],
    *,
    other_failed: str = "raise",
    busy: str = "the order kept changing; the provider will notify again",
) -> bool:
    """Book a purpose payment (a top-up, a coupon batch, a reservation) once: `write(tx)` adds the
    payment's update, conditional on the status it was read with, and its one journal posting
    (a put: PynamoDB sends puts before updates, so the posting is item 0 and the payment, the
    first update, item 1). False: another delivery booked it meanwhile. A payment closed or
    expired meanwhile is booked all the same on the next try (the money is real). Another item's
    condition failing: `booked` (it was booked meanwhile), `retry` (decide again), `raise`."""
    for _ in range(3):
        try:
            with transaction() as tx:
                write(tx)
        except TransactWriteError as error:
            if failed_condition(error, index=0):
                return False
            if failed_condition(error, index=1):
                payment.refresh(consistent_read=True)
                if payment.status in BOOKED:
                    return False
                continue
            if other_failed != "raise" and failed_condition(error):
                if other_failed == "booked":
                    return False
                continue
            raise
        return True
    raise Conflict(busy, "busy")
