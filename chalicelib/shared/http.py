"""The HTTP edge shared by every context: route declarations, request parsing, the JSON answer
and the mapping of domain errors to statuses.

A context declares its routes on a `Routes` collection (`@routes.route(path, method)`); its
blueprint registers them with `register(bp, routes)`. Every view runs inside one error mapper:
a `DomainError` leaves as `{"code", "message"}` with its status, a throttled dependency as 503
with Retry-After, and nothing leaves with a stack trace.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from chalicelib.shared import errors
from chalicelib.shared.db import is_throttled
from chalicelib.shared.errors import DomainError, Invalid

log = logging.getLogger(__name__)

STATUS: dict[type[DomainError], int] = {
    errors.Invalid: 400,
    errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404,
    errors.Conflict: 409,
    errors.Gone: 410,
    errors.Unprocessable: 422,
    errors.Unavailable: 503,
}
RETRY_AFTER_SECONDS = 1
JSON_TYPES = ["application/json"]

View = Callable[..., Response]


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    handler: View
    content_types: list[str] = field(default_factory=lambda: list(JSON_TYPES))


class Routes:
    """The routes of one context, in declaration order."""

    def __init__(self) -> None:
        self.specs: list[RouteSpec] = []

    def route(self, path: str, method: str, content_types: list[str] | None = None) -> Callable[[View], View]:
        def declare(handler: View) -> View:
            self.specs.append(RouteSpec(path, method.upper(), handler, content_types or list(JSON_TYPES)))
            return handler

        return declare


def status_of(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def error_response(
    status: int,
    code: str,
    message: str,
    problems: list[str] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if problems:
        body["errors"] = problems
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )


def from_domain_error(error: DomainError) -> Response:
    status = status_of(error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else None
    return error_response(status, error.code, error.message, error.errors, headers)


def unavailable() -> Response:
    return error_response(
        503,
        "unavailable",
        "the service is busy; try again shortly",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _view(bp: Blueprint, spec: RouteSpec) -> View:
    def view(**params: str) -> Response:
        try:
            return spec.handler(bp.current_request, **params)
        except DomainError as error:
            return from_domain_error(error)
        except Exception as error:
            if is_throttled(error):
                log.warning("throttled", extra={"path": spec.path})
                return unavailable()
            raise

    view.__name__ = spec.handler.__name__
    view.__doc__ = spec.handler.__doc__
    return view


def register(bp: Blueprint, routes: Routes) -> None:
    for spec in routes.specs:
        bp.route(spec.path, methods=[spec.method], content_types=spec.content_types)(_view(bp, spec))


def json_body(request: Any) -> dict[str, Any]:
    raw = request.raw_body
    if not raw:
        raise Invalid("a JSON object body is required", "invalid_json")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise Invalid("the body is not valid JSON", "invalid_json") from exc
    if not isinstance(body, dict):
        raise Invalid("the body must be a JSON object", "invalid_json")
    return body


def query_param(request: Any, name: str, default: str = "") -> str:
    params: dict[str, str] = request.query_params or {}
    return params.get(name, default)


def ok(body: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(body, ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )
