"""parkcharge: the Chalice app. Registers one blueprint per context (its routes, device-message
functions, queue consumers and schedules), the last-resort error middleware, health and the
API's OpenAPI document. No business logic here."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from chalice import Blueprint, Chalice, Response

from chalicelib.charging import api as charging_api
from chalicelib.charging import books_api as charging_books
from chalicelib.charging.blueprint import bp as charging
from chalicelib.coupons import api as coupons_api
from chalicelib.coupons.blueprint import bp as coupons
from chalicelib.ledger.blueprint import bp as ledger
from chalicelib.parking import api as parking_api
from chalicelib.parking import books_api as parking_books
from chalicelib.parking import booth_api as parking_booth
from chalicelib.parking import identities_api as parking_identities
from chalicelib.parking import ops_api as parking_ops
from chalicelib.parking import reservations_api as parking_reservations
from chalicelib.parking.blueprint import bp as parking
from chalicelib.payments import api as payments_api
from chalicelib.payments import callbacks as payments_callbacks
from chalicelib.payments import prestore_api as payments_prestore
from chalicelib.payments import recon_api as payments_recon
from chalicelib.payments.blueprint import bp as payments
from chalicelib.platform import api as platform_api
from chalicelib.platform.blueprint import bp as platform
from chalicelib.platform.contract import HealthOut
from chalicelib.shared.http import Routes, error_response, ok, register
from chalicelib.shared.observability import logger
from chalicelib.shared.settings import get_settings
from chalicelib.workflows import api as workflows_api
from chalicelib.workflows import refund_api, refund_callbacks
from chalicelib.workflows.blueprint import bp as workflows

app = Chalice(app_name="parkcharge")
app.debug = False

meta_routes = Routes()


@meta_routes.route("/v1/health", "GET", response=HealthOut)
def health(request: Any) -> Response:
    """Liveness and the stage."""
    return ok({"status": "ok", "stage": get_settings().stage})


@meta_routes.route("/v1/openapi.json", "GET", response=dict[str, Any])
def openapi_json(request: Any) -> Response:
    """This API's OpenAPI 3.1 document."""
    return Response(body=_document_text(), status_code=200, headers={"Content-Type": "application/json"})


ROUTES = (
    meta_routes,
    platform_api.routes,
    parking_api.routes,
    parking_books.routes,
    parking_ops.routes,
    parking_booth.routes,
    parking_identities.routes,
    parking_reservations.routes,
    payments_api.routes,
    payments_callbacks.routes,
    payments_recon.routes,
    payments_prestore.routes,
    charging_api.routes,
    charging_books.routes,
    workflows_api.routes,
    refund_api.routes,
    refund_callbacks.routes,
    coupons_api.routes,
)


def openapi_document() -> dict[str, Any]:
    """Generated from the routes and their models (docs/openapi.json is this, written by
    `make openapi`). Imported on first use: a cold start does not pay for it."""
    from chalicelib.shared import openapi

    return openapi.document(ROUTES)


@lru_cache(maxsize=1)
def _document_text() -> str:
    return json.dumps(openapi_document(), ensure_ascii=False)


meta = Blueprint(__name__)
register(meta, meta_routes)
for blueprint in (meta, platform, parking, payments, charging, ledger, workflows, coupons):
    app.register_blueprint(blueprint)


@app.middleware("http")
def json_errors(event: Any, get_response: Any) -> Response:
    """Whatever escapes a view leaves as `{"code", "message"}`, never with a stack trace; Chalice's
    own answers (unknown route, wrong method or content type) get a `code` too."""
    try:
        response = get_response(event)
    except Exception:
        logger.exception("unhandled error", extra={"path": getattr(event, "path", None)})
        return error_response(500, "internal_error", "an internal error occurred")
    body = response.body
    if response.status_code >= 400 and isinstance(body, dict) and "Code" in body:
        code = re.sub(r"(?<!^)(?=[A-Z])", "_", str(body["Code"])).lower().removesuffix("_error") or "error"
        return error_response(response.status_code, code, str(body.get("Message", "")))
    return response
