"""Powertools for every function: one Logger (JSON, correlation ids), Tracer and Metrics, and a
context that flushes business metrics after each device message without ever failing it."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric

logger = Logger(service="parkcharge")
metrics = Metrics(namespace="parkcharge", service="parkcharge")
tracer = Tracer(service="parkcharge")


class metrics_flushed:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        try:
            metrics.flush_metrics()
        except Exception:  # metrics must never fail a gate decision
            logger.debug("metrics flush skipped")


def site_metric(name: str, site: str, value: int) -> None:
    """One count with a `site` dimension (a lot or station), flushed at once; never fails."""
    try:
        with single_metric(
            name=name,
            unit=MetricUnit.Count,
            value=value,
            namespace="parkcharge",
            default_dimensions={"service": "parkcharge"},
        ) as metric:
            metric.add_dimension(name="site", value=site)
    except Exception:
        logger.debug("site metric skipped")
