"""parkcharge: the Chalice app. Registers the HTTP blueprints, the device-message functions
invoked by IoT rules, the dead-letter consumer and the schedules. No business logic here."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from chalice import Chalice, Rate, Response

from chalicelib.api import callbacks, charging, driver, ops
from chalicelib.api.http import error_response, from_app_error, ok
from chalicelib.errors import AppError
from chalicelib.settings import get_settings

app = Chalice(app_name="parkcharge")
app.debug = False
logger = Logger(service="parkcharge")
metrics = Metrics(namespace="parkcharge", service="parkcharge")
tracer = Tracer(service="parkcharge")

app.register_blueprint(driver.bp)
app.register_blueprint(ops.bp)
app.register_blueprint(callbacks.bp)
app.register_blueprint(charging.bp)


def _now() -> datetime:
    return datetime.now(UTC)


@app.middleware("http")
def json_errors(event: Any, get_response: Any) -> Response:
    """Every error leaves as `{"code", "message"}`; nothing leaves with a stack trace."""
    try:
        response = get_response(event)
    except AppError as error:
        return from_app_error(error)
    except Exception:
        logger.exception("unhandled error", extra={"path": getattr(event, "path", None)})
        return error_response(500, "internal_error", "an internal error occurred")
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"])).lower().removesuffix("_error") or "error"
        return error_response(response.status_code, code, str(body.get("Message", "")))
    return response


@app.route("/v1/health", methods=["GET"])
def health() -> Response:
    return ok({"status": "ok", "stage": get_settings().stage})


class metrics_flushed:
    """Flush business metrics after each device message (EMF lines on stdout in Lambda)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        try:
            metrics.flush_metrics()
        except Exception:  # metrics must never fail a gate decision
            logger.debug("metrics flush skipped")


def _device_event(kind: str, event: Any) -> dict[str, Any]:
    from chalicelib.devices import handlers

    result = getattr(handlers, f"on_{kind}")(event, _now())
    metrics.add_metric(
        name=f"Gate{kind.title()}{result['result'].title().replace('_', '')}", unit="Count", value=1
    )
    logger.info("device message", extra={"kind": kind, **result})
    return result


@app.lambda_function(name="gate_capture")
@tracer.capture_lambda_handler
def gate_capture(event: Any, context: Any) -> dict[str, Any]:
    with metrics_flushed():
        return _device_event("capture", event)


@app.lambda_function(name="gate_ack")
@tracer.capture_lambda_handler
def gate_ack(event: Any, context: Any) -> dict[str, Any]:
    with metrics_flushed():
        return _device_event("ack", event)


@app.lambda_function(name="gate_status")
@tracer.capture_lambda_handler
def gate_status(event: Any, context: Any) -> dict[str, Any]:
    with metrics_flushed():
        return _device_event("status", event)


@app.lambda_function(name="charger_ocpp")
@tracer.capture_lambda_handler
def charger_ocpp(event: Any, context: Any) -> dict[str, Any]:
    from chalicelib.devices import charger_handlers

    with metrics_flushed():
        result = charger_handlers.on_frame(event, _now())
        metrics.add_metric(name=f"Ocpp{result['result'].title()}", unit="Count", value=1)
        logger.info("ocpp frame", extra=result)
        return result


@app.lambda_function(name="device_presence")
@tracer.capture_lambda_handler
def device_presence(event: Any, context: Any) -> dict[str, Any]:
    from chalicelib.devices import presence

    return presence.on_presence(event, _now())


@app.on_sqs_message(queue=get_settings().iot_dead_letter_queue, batch_size=10)
def iot_dead_letters(event: Any) -> None:
    from chalicelib.devices import handlers

    records = [record.to_dict() for record in event]
    count = handlers.on_rule_failures(records, _now())
    logger.warning("IoT rule failures stored as dead letters", extra={"count": count})


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_commands(event: Any) -> None:
    from chalicelib.services import commands

    timed_out = commands.sweep_timeouts(_now())
    if timed_out:
        logger.warning("device commands timed out", extra={"count": timed_out})


@app.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_charging(event: Any) -> None:
    from chalicelib.services import charging as charging_service

    counts = charging_service.sweep(_now())
    if any(counts.values()):
        logger.warning("charging sessions swept", extra=counts)
