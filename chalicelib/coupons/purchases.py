"""Batches a merchant buys: its super admin orders fixed-value coupons, priced at their face
value × quantity (docs/coupons.md), and pays through a provider into the merchant account of
the merchant's lot (payments.ports). The batch is written `ordered` and gives nothing until the
provider confirms the payment; then, in the transaction that books the payment, it becomes
`bought` (coupons.bought) and the money the merchant's prepaid balance in the journal."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from chalicelib.coupons import contract as c
from chalicelib.coupons import merchants
from chalicelib.coupons.domain import rules
from chalicelib.coupons.models import ORDERED, SUPER_ADMIN, Batch, Merchant, MerchantMember
from chalicelib.payments import ports as payments
from chalicelib.platform import audit
from chalicelib.shared.db import get_or_none, transaction
from chalicelib.shared.errors import Forbidden, Invalid, NotFound, Unprocessable


def order(
    member: MerchantMember,
    merchant: Merchant,
    body: c.PurchaseIn,
    now: datetime,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    if member.role != SUPER_ADMIN:
        raise Forbidden("only the merchant's super admin buys coupon batches", "super_admin_only")
    face = rules.Face(body.kind, body.value, body.cap_fen)
    try:
        rules.check_face(face)
    except rules.CouponRuleError as exc:
        raise Invalid(str(exc), "invalid_coupon") from exc
    try:
        price = rules.batch_price(face, body.quantity)
    except rules.CouponRuleError as exc:
        raise Unprocessable(str(exc), "not_purchasable") from exc

    def write_batch(payment_id: str) -> str:
        batch = merchants.new_batch(merchant, body, ORDERED, member.user_id, now)
        batch.price_fen, batch.payment_id = price, payment_id
        with transaction() as tx:
            tx.save(batch, condition=Batch.batch_id.does_not_exist())
            audit.add(
                tx,
                member.user_id,
                str(merchant.operator_id),
                "coupon_batch",
                batch.batch_id,
                "order",
                None,
                {**c.batch_view(batch), "price_fen": price, "payment_id": payment_id},
                None,
                now,
            )
        return str(batch.batch_id)

    fields = {k: v for k, v in msgspec.structs.asdict(body).items() if k not in ("method", "payer_id")}
    bought = payments.order_batch(
        member.user_id,
        merchant_id=str(merchant.merchant_id),
        lot_id=str(merchant.lot_id),
        amount_fen=price,
        method=body.method,
        payer_id=body.payer_id,
        fields={**fields, "merchant_id": merchant.merchant_id},
        new_batch=write_batch,
        now=now,
        idempotency_key=idempotency_key,
    )
    batch = Batch.get(bought.batch_id, consistent_read=True)
    return {**view(batch, bought.payment), "provider_order": bought.provider_order}


def view(batch: Batch, payment: dict[str, Any] | None) -> dict[str, Any]:
    return {"batch": c.batch_view(batch), "price_fen": int(batch.price_fen or 0), "payment": payment}


def status(merchant: Merchant, batch_id: str, now: datetime) -> dict[str, Any]:
    """A bought batch of this merchant with its payment (another merchant's answers 404)."""
    batch = get_or_none(Batch, batch_id, consistent=True)
    if batch is None or batch.merchant_id != merchant.merchant_id or batch.payment_id is None:
        raise NotFound("no such coupon batch purchase", "batch_not_found")
    payment = payments.batch_payment(batch_id, now)
    if payment is not None and payment.get("status") in ("paid", "refund_due"):
        batch.refresh(consistent_read=True)  # booked just now by the provider's answer
    return view(batch, payment)
