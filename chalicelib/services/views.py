"""JSON views of stored items for the API (money in fen, times in UTC ISO 8601)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.domain.timeutil import iso
from chalicelib.models.payments import Payment
from chalicelib.models.quotes import Quote
from chalicelib.models.visits import Visit


def _t(value: datetime | None) -> str | None:
    return iso(value) if value is not None else None


def visit(item: Visit) -> dict[str, Any]:
    return {
        "visit_id": item.visit_id,
        "lot_id": item.lot_id,
        "plate": item.plate,
        "vehicle_class": item.vehicle_class,
        "status": item.status,
        "entered_at": _t(item.entered_at),
        "entry_lane_id": item.entry_lane_id,
        "entry_remark": item.entry_remark,
        "exited_at": _t(item.exited_at),
        "exit_lane_id": item.exit_lane_id,
        "total_fen": int(item.total_fen),
        "paid_fen": int(item.paid_fen),
        "discount_fen": int(item.discount_fen),
        "paid_at": _t(item.paid_at),
        "abnormal_reason": item.abnormal_reason,
        "charging_waiver": item.charging_waiver,
    }


def quote(item: Quote) -> dict[str, Any]:
    return {
        "quote_id": item.quote_id,
        "visit_id": item.visit_id,
        "lot_id": item.lot_id,
        "plate": item.plate,
        "entered_at": _t(item.entered_at),
        "priced_until": _t(item.priced_until),
        "total_fen": int(item.total_fen),
        "paid_fen": int(item.paid_fen),
        "discount_fen": int(item.discount_fen),
        "due_fen": int(item.due_fen),
        "breakdown": item.breakdown,
        "discounts": item.discounts or [],
        "tariff": item.tariff,
        "expires_at": _t(item.expires_at),
    }


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
        "created_at": _t(item.created_at),
        "paid_at": _t(item.paid_at),
    }
