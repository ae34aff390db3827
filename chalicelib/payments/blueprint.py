"""Payments' blueprint: its routes (driver payments and wallet, provider callbacks, staff), the
sweeper of pending provider orders past their expiry and the daily reconciliation."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Cron, Rate

from chalicelib.payments import api, callbacks, prestore_api, recon_api, reconcile, sweeper
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, callbacks.routes)
http.register(bp, recon_api.routes)
http.register(bp, prestore_api.routes)


@bp.schedule(Cron(0, 3, "*", "*", "?", "*"))
def reconcile_yesterday(event: Any) -> dict[str, Any]:
    """Daily at 11:00 China time (the providers publish the day before's statements by 10:00):
    yesterday's statements against the journal (docs/booth.md)."""
    with metrics_flushed():
        at = now()
        report = reconcile.run(reconcile.yesterday(at), at)
        metrics.add_metric(name="ReconciliationDifferences", unit="Count", value=report["differences"])
        metrics.add_metric(name="ReconciliationFailedAccounts", unit="Count", value=len(report["failed"]))
        logger.info("reconciliation", extra=report)
        return report


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_pending_payments(event: Any) -> None:
    counts = sweeper.sweep(now())
    if any(counts.values()):
        logger.info("pending payments swept", extra=counts)
