"""The platform's functions: IoT lifecycle events, IoT rule failures into dead letters, and the
command sweeper."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Blueprint, Rate

from chalicelib.platform import api, commands, dead_letters, presence
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed, site_metric, tracer
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
    """The resender on a schedule (the shortest EventBridge rate): publish again every command
    not acknowledged and not expired, time out the expired ones and count them per site."""
    result = commands.sweep(now())
    if result.timed_out:
        logger.warning(
            "device commands timed out",
            extra={"count": result.timed_out, "by_site": dict(result.timed_out_by_site)},
        )
    publish_timeouts(result.timed_out_by_site)


def publish_timeouts(by_site: Mapping[str, int]) -> None:
    """`CommandTimeouts` per site (dimension `site`, for the dashboard and triage) and
    `CommandTimeoutsWorstSite`, the largest count at any one site in this sweep: one alarm on it
    turns a wave of timeouts at one site into one notification (docs/decisions.md)."""
    with metrics_flushed():
        for site, count in by_site.items():
            site_metric("CommandTimeouts", site, count)
        metrics.add_metric(
            name="CommandTimeoutsWorstSite", unit="Count", value=max(by_site.values(), default=0)
        )
