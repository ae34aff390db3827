"""Payments' blueprint: its routes (driver payments and wallet, provider callbacks, staff) and the
sweeper of pending provider orders past their expiry."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Rate

from chalicelib.payments import api, callbacks, sweeper
from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, callbacks.routes)


@bp.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_pending_payments(event: Any) -> None:
    counts = sweeper.sweep(now())
    if any(counts.values()):
        logger.info("pending payments swept", extra=counts)
