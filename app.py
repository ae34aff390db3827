"""parkcharge: the Chalice app. Registers one blueprint per context (its routes, device-message
functions, queue consumers and schedules), the last-resort error middleware and the health
route. No business logic here."""

from __future__ import annotations

import re
from typing import Any

from chalice import Chalice, Response

from chalicelib.charging.blueprint import bp as charging
from chalicelib.parking.blueprint import bp as parking
from chalicelib.payments.blueprint import bp as payments
from chalicelib.platform.blueprint import bp as platform
from chalicelib.shared.http import error_response, ok
from chalicelib.shared.observability import logger
from chalicelib.shared.settings import get_settings

app = Chalice(app_name="parkcharge")
app.debug = False

for blueprint in (platform, parking, payments, charging):
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


@app.route("/v1/health", methods=["GET"])
def health() -> Response:
    return ok({"status": "ok", "stage": get_settings().stage})
