"""Coupons' blueprint: its routes (operator staff, merchant staff, drivers)."""

from __future__ import annotations

from chalice import Blueprint

from chalicelib.coupons import api
from chalicelib.shared import http

bp = Blueprint(__name__)
http.register(bp, api.routes)
