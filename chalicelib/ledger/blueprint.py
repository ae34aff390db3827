"""The ledger's blueprint: the scheduled invariant check, reported as a metric and a log line
(alarmed in AWS)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.ledger import checks
from chalicelib.shared.observability import logger, metrics, metrics_flushed

bp = Blueprint(__name__)


@bp.schedule(Rate(1, unit=Rate.HOURS))
def check_books(event: Any) -> dict[str, Any]:
    with metrics_flushed():
        breaches = checks.run()
        metrics.add_metric(name="LedgerBreaches", unit="Count", value=len(breaches))
        report = {"breaches": len(breaches), "first": [b.__dict__ for b in breaches[:20]]}
        if breaches:
            logger.error("ledger invariants breached", extra=report)
        else:
            logger.info("ledger invariants hold", extra=report)
        return report
