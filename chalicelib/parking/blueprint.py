"""Parking's blueprint: its routes, the gate devices' functions (invoked by the IoT rules
gate_capture, gate_ack, gate_status and gate_event), the guidance publisher (rule lot_occupancy)
and the occupancy recount."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.parking import (
    api,
    books_api,
    booth_api,
    devices,
    identities_api,
    occupancy,
    ops_api,
    paid_reservations,
    reservations_api,
)
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed, tracer

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, books_api.routes)
http.register(bp, ops_api.routes)
http.register(bp, booth_api.routes)
http.register(bp, identities_api.routes)
http.register(bp, reservations_api.routes)


def _device_event(kind: str, event: Any) -> dict[str, Any]:
    handler = {
        "capture": devices.on_capture,
        "ack": devices.on_ack,
        "status": devices.on_status,
        "event": devices.on_event,
    }[kind]
    with metrics_flushed():
        result = handler(event, now())
        metrics.add_metric(
            name=f"Gate{kind.title()}{result['result'].title().replace('_', '')}", unit="Count", value=1
        )
        logger.info("device message", extra={"kind": kind, **result})
        return result


@bp.lambda_function(name="gate_capture")
@tracer.capture_lambda_handler
def gate_capture(event: Any, context: Any) -> dict[str, Any]:
    return _device_event("capture", event)


@bp.lambda_function(name="gate_ack")
@tracer.capture_lambda_handler
def gate_ack(event: Any, context: Any) -> dict[str, Any]:
    return _device_event("ack", event)


@bp.lambda_function(name="gate_status")
@tracer.capture_lambda_handler
def gate_status(event: Any, context: Any) -> dict[str, Any]:
    return _device_event("status", event)


@bp.lambda_function(name="gate_event")
@tracer.capture_lambda_handler
def gate_event(event: Any, context: Any) -> dict[str, Any]:
    return _device_event("event", event)


@bp.lambda_function(name="lot_occupancy")
@tracer.capture_lambda_handler
def lot_occupancy(event: Any, context: Any) -> dict[str, Any]:
    """A lot's count changed (the gate's notification, IoT rule lot_occupancy): publish its free
    spaces to the lot's guidance screens."""
    with metrics_flushed():
        # Every rule's event shape: topic(3) of parkcharge/lot/{lot_id}/occupancy/changed.
        lot_id = str((event or {}).get("topic_device_id") or "")
        if not lot_id:
            return {"result": "ignored"}
        message = occupancy.publish_changed(lot_id, now)
        if message is None:  # the lot's publisher running in this process reads it again
            return {"result": "coalesced"}
        return {"result": "published", "free": message["free"]}


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def recount_occupancy(event: Any) -> None:
    """Correct drift: set each lot's count from the cars inside and publish it."""
    done = occupancy.recount_all(now())
    drifted = [d for d in done if d["drift"]]
    if drifted:
        logger.warning("occupancy recount corrected drift", extra={"lots": drifted})


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def settle_reservations(event: Any) -> None:
    """Paid reservations whose window ended without an entry: the prepaid is owed back, the fee
    kept; a closed visit's unused prepaid handed to its payment (the automatic refund pays both;
    docs/identities.md)."""
    with metrics_flushed():
        done = paid_reservations.settle(now())
        metrics.add_metric(name="ReservationNoShows", unit="Count", value=done["no_show"])
        logger.info("reservations settled", extra=done)
