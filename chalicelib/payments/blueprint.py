"""Payments' blueprint: its routes (driver payments and wallet, provider callbacks, staff)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.payments import api, callbacks
from chalicelib.shared import http

bp = Blueprint(__name__)
http.register(bp, api.routes)
http.register(bp, callbacks.routes)
