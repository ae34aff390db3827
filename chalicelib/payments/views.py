"""JSON views of payments items for the API (money in fen, times in UTC ISO 8601)."""

from __future__ import annotations

from typing import Any

from chalicelib.payments.models import Payment
from chalicelib.shared.timeutil import iso_or_none


def payment(item: Payment) -> dict[str, Any]:
    return {
        "payment_id": item.payment_id,
        "quote_id": item.quote_id,
        "visit_id": item.visit_id,
        "lot_id": item.lot_id,
        "plate": item.plate,
        "amount_fen": int(item.amount_fen),
        "provider": item.provider,
        "method": item.method,
        "source": item.source,
        "status": item.status,
        "provider_txn_id": item.provider_txn_id,
        "created_at": iso_or_none(item.created_at),
        "paid_at": iso_or_none(item.paid_at),
        # once paid: what counted toward the visit, what is owed back, and whether it came in time
        "applied_fen": int(item.applied_fen) if item.applied_fen is not None else None,
        "excess_fen": int(item.excess_fen) if item.excess_fen is not None else None,
        "on_time": item.on_time,
        "purpose": item.purpose,
    }
