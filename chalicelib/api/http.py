"""Request parsing and the error shape shared by every blueprint."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalice import Response

from chalicelib.errors import AppError, BadRequest


def now() -> datetime:
    return datetime.now(UTC)


def json_body(request: Any) -> dict[str, Any]:
    raw = request.raw_body
    if not raw:
        raise BadRequest("a JSON object body is required", "invalid_json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", "invalid_json") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object", "invalid_json")
    return body


def query_param(request: Any, name: str, default: str = "") -> str:
    params: dict[str, str] = request.query_params or {}
    return params.get(name, default)


def error_response(status: int, code: str, message: str, errors: list[str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )


def from_app_error(error: AppError) -> Response:
    return error_response(error.status, error.code, error.message, getattr(error, "errors", None))


def ok(body: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )
