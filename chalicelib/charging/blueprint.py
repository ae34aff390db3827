"""Charging's blueprint: its routes, the chargers' OCPP function (IoT rule charger_ocpp) and the
session sweeper."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.charging import api, books_api, devices, sessions
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed, tracer

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, books_api.routes)


@bp.lambda_function(name="charger_ocpp")
@tracer.capture_lambda_handler
def charger_ocpp(event: Any, context: Any) -> dict[str, Any]:
    with metrics_flushed():
        result = devices.on_frame(event, now())
        metrics.add_metric(name=f"Ocpp{result['result'].title()}", unit="Count", value=1)
        logger.info("ocpp frame", extra=result)
        return result


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_charging(event: Any) -> None:
    counts = sessions.sweep(now())
    if any(counts.values()):
        logger.warning("charging sessions swept", extra=counts)
