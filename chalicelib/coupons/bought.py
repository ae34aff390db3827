"""A bought batch made available: what payments asks, through `coupons.ports`, inside the
transaction that books the batch's payment (ordered → bought, once, with the payment's id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.transactions import TransactWrite

from chalicelib.coupons.models import BOUGHT, ORDERED, Batch
from chalicelib.shared.db import get_or_none
from chalicelib.shared.errors import NotFound


@dataclass(frozen=True)
class PaidBatch:
    batch_id: str
    merchant_id: str
    operator_id: str
    lot_id: str


def batch_paid(tx: TransactWrite, batch_id: str, payment_id: str, now: datetime) -> PaidBatch:
    """The batch ordered with `payment_id` becomes usable, as an update of the caller's
    transaction (conditional on it still being ordered with that payment: booked once)."""
    batch = get_or_none(Batch, batch_id, consistent=True)
    if batch is None or batch.payment_id != payment_id:
        raise NotFound(f"no coupon batch ordered with {payment_id}", "batch_not_found")
    tx.update(
        batch,
        actions=[Batch.source.set(BOUGHT), Batch.paid_at.set(now)],
        condition=(Batch.source == ORDERED) & (Batch.payment_id == payment_id),
    )
    return PaidBatch(batch.batch_id, str(batch.merchant_id), str(batch.operator_id), str(batch.lot_id))
