"""JSON views of parking items for the API (money in fen, times in UTC ISO 8601)."""

from __future__ import annotations

from typing import Any

from chalicelib.parking.models import Lane, Lot, Quote, Record, Visit
from chalicelib.shared.timeutil import iso_or_none


def visit(item: Visit) -> dict[str, Any]:
    return {
        "visit_id": item.visit_id,
        "lot_id": item.lot_id,
        "plate": item.plate,
        "vehicle_class": item.vehicle_class,
        "status": item.status,
        "entered_at": iso_or_none(item.entered_at),
        "entry_lane_id": item.entry_lane_id,
        "entry_remark": item.entry_remark,
        "exited_at": iso_or_none(item.exited_at),
        "exit_lane_id": item.exit_lane_id,
        "total_fen": int(item.total_fen),
        "paid_fen": int(item.paid_fen),
        "discount_fen": int(item.discount_fen),
        "overpaid_fen": int(item.overpaid_fen or 0),  # an open refund obligation (the journal has it)
        "paid_at": iso_or_none(item.paid_at),
        "abnormal_reason": item.abnormal_reason,
        "charging_waiver": item.charging_waiver,
        "cash_fen": int(item.cash_fen or 0),
        # a paid reservation's prepaid the stay carries (it pays the fee first; paid_fen is what
        # the driver paid), and the earlier visits' arrears it owes with its own fee
        "prepaid_fen": int(item.prepaid_fen or 0),
        "reservation_id": (item.reservation or {}).get("reservation_id"),
        "arrears_fen": int(item.arrears_fen or 0),
        "exit_remark": item.exit_remark,
        "corrections": item.corrections or [],
    }


def quote(item: Quote) -> dict[str, Any]:
    return {
        "quote_id": item.quote_id,
        "visit_id": item.visit_id,
        "lot_id": item.lot_id,
        "plate": item.plate,
        "entered_at": iso_or_none(item.entered_at),
        "priced_until": iso_or_none(item.priced_until),
        "total_fen": int(item.total_fen),
        "paid_fen": int(item.paid_fen),
        "discount_fen": int(item.discount_fen),
        "due_fen": int(item.due_fen),
        # due = total − discount − prepaid + arrears − paid
        "arrears_fen": int(item.arrears_fen or 0),
        "prepaid_fen": int(item.prepaid_fen or 0),
        "breakdown": item.breakdown,
        "discounts": item.discounts or [],
        "tariff": item.tariff,
        "expires_at": iso_or_none(item.expires_at),
    }


def lot(item: Lot) -> dict[str, Any]:
    return {
        "lot_id": item.lot_id,
        "name": item.name,
        "operator_id": item.operator_id,
        "timezone": item.timezone,
        "capacity": int(item.capacity),
        "grace_minutes": int(item.grace_minutes),
        "tariff_plan": item.tariff_plan,
        "holidays": list(item.holidays or []),
    }


def lane(item: Lane) -> dict[str, Any]:
    return {
        "lane_id": item.lane_id,
        "name": item.name,
        "direction": item.direction,
        "gate_id": item.gate_id,
        "device_ids": list(item.device_ids or []),
    }


def record(item: Record) -> dict[str, Any]:
    return {
        "type": item.type,
        "plate": item.plate,
        "visit_id": item.visit_id,
        "detail": item.detail,
        "created_at": iso_or_none(item.created_at),
    }
