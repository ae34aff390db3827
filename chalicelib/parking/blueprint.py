"""Parking's blueprint: its routes and the gate devices' functions (invoked by the IoT rules
gate_capture, gate_ack and gate_status)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.parking import api, books_api, devices
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed, tracer

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, books_api.routes)


def _device_event(kind: str, event: Any) -> dict[str, Any]:
    handler = {"capture": devices.on_capture, "ack": devices.on_ack, "status": devices.on_status}[kind]
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
