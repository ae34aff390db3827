"""The platform's functions: IoT lifecycle events, IoT rule failures into dead letters, and the
command sweeper."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.platform import api, commands, dead_letters, presence
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, tracer
from chalicelib.shared.settings import get_settings

bp = Blueprint(__name__)
http.register(bp, api.routes)


@bp.lambda_function(name="device_presence")
@tracer.capture_lambda_handler
def device_presence(event: Any, context: Any) -> dict[str, Any]:
    return presence.on_presence(event, now())


@bp.on_sqs_message(queue=get_settings().iot_dead_letter_queue, batch_size=10)
def iot_dead_letters(event: Any) -> None:
    records = [record.to_dict() for record in event]
    count = dead_letters.store_rule_failures(records, now())
    logger.warning("IoT rule failures stored as dead letters", extra={"count": count})


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def sweep_commands(event: Any) -> None:
    timed_out = commands.sweep_timeouts(now())
    if timed_out:
        logger.warning("device commands timed out", extra={"count": timed_out})
