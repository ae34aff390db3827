"""The HTTP edge shared by every context: route declarations, typed request parsing, the JSON
answer and the mapping of domain errors to statuses.

A context declares its routes on a `Routes` collection:

    @routes.route("/v1/driver/quotes", "POST", body=QuoteIn, response=QuoteOut, status=201,
                  errors=[404, 409], auth=DRIVER)
    def create_quote(request, *, me, body): ...

and its blueprint registers them with `register(bp, routes)`. The wrapper authenticates (`auth`:
driver, staff, none or a provider signature checked by the handler), decodes the JSON body and the
query string into the declared msgspec Structs (strictly: no floats or bools for integers, no
unknown fields, the declared bounds), refuses text with NUL and JSON deeper than DynamoDB can hold,
then calls the handler with `me`, `body` and `query` as keywords. Everything that fails leaves as
`{"code", "message"}` (+ `errors` for a list of problems) with its status; a throttled dependency
as 503 with Retry-After; nothing leaves with a stack trace. The same declarations make the
OpenAPI document (`shared.openapi`).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from chalice import Blueprint, Response

from chalicelib.shared import errors
from chalicelib.shared.auth import (
    DRIVER,
    MERCHANT,
    ROLES,
    STAFF,
    require_driver,
    require_merchant,
    require_staff,
)
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
NONE = "none"
SIGNATURE = "signature"  # a provider's signed notification: the handler verifies it
AUTHS = (DRIVER, STAFF, MERCHANT, NONE, SIGNATURE)
MAX_DEPTH = 32  # DynamoDB's nesting limit for maps and lists
MAX_PATH_PARAM = 128

# Where a field's own error code is older than the typed edge (clients and docs know these), a
# decoding problem in that field keeps it; anything else is `invalid_request`.
FIELD_CODES = {
    "plate": "invalid_plate",
    "amount_fen": "invalid_amount",
    "prepay_fen": "invalid_amount",
    "qr_id": "invalid_qr_id",
    "quote_id": "invalid_quote_id",
    "method": "invalid_method",
    "duration_minutes": "invalid_duration",
    "entered_at": "invalid_time",
    "exited_at": "invalid_time",
    "started_at": "invalid_time",
    "ended_at": "invalid_time",
    "version": "invalid_version",
    "definition": "invalid_tariff",
    "tariff": "invalid_tariff",
    "holiday_tariff": "invalid_tariff",
    "timezone": "invalid_timezone",
    "holidays": "invalid_holidays",
    "grace_minutes": "invalid_grace",
    "small": "invalid_plan",  # a lot's tariff plan, per vehicle class
    "large": "invalid_plan",
    "other": "invalid_plan",
    "vehicle_class": "invalid_vehicle_class",
    "type": "invalid_type",
    "status": "invalid_status",
    "action": "invalid_action",
    "payload": "invalid_payload",
    "station_id": "invalid_station",
    "tariff_id": "invalid_tariff_id",
    "name": "invalid_name",
    "kind": "invalid_kind",
    "areas": "invalid_areas",
    "parking_waiver": "invalid_waiver",
}

View = Callable[..., Response]


class ErrorBody(msgspec.Struct):
    """Every error answer: a stable code, a message, and for a list of problems `errors`."""

    code: str
    message: str
    errors: list[str] | msgspec.UnsetType = msgspec.UNSET


@dataclass(frozen=True)
class RouteSpec:
    path: str
    method: str
    handler: View
    content_types: list[str] = field(default_factory=lambda: list(JSON_TYPES))
    body: type[msgspec.Struct] | None = None
    query: type[msgspec.Struct] | None = None
    response: Any = None
    status: int = 200
    errors: tuple[int, ...] = ()
    auth: str = NONE
    roles: tuple[str, ...] = ()  # staff routes: one of these roles is needed (ops_admin: any)

    @property
    def path_params(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.path)

    @property
    def statuses(self) -> list[int]:
        """Every status this route may answer: declared, and what the edge itself answers."""
        found = set(self.errors) | {503}
        if self.body is not None or self.query is not None or self.path_params:
            found.add(400)
        if self.body is not None:
            found.add(415)
        if self.auth in (DRIVER, STAFF, MERCHANT):
            found |= {401, 403}
        if self.auth == SIGNATURE:
            found.add(401)
        return sorted(found - {self.status})


class Routes:
    """The routes of one context, in declaration order."""

    def __init__(self) -> None:
        self.specs: list[RouteSpec] = []

    def route(
        self,
        path: str,
        method: str,
        content_types: list[str] | None = None,
        *,
        body: type[msgspec.Struct] | None = None,
        query: type[msgspec.Struct] | None = None,
        response: Any = None,
        status: int = 200,
        errors: Iterable[int] = (),
        auth: str = NONE,
        roles: Iterable[str] = (),
    ) -> Callable[[View], View]:
        if auth not in AUTHS:
            raise ValueError(f"auth must be one of {AUTHS}")
        needed = tuple(roles)
        if needed and auth != STAFF:
            raise ValueError("roles apply to staff routes only")
        unknown = set(needed) - set(ROLES)
        if unknown:
            raise ValueError(f"unknown roles {sorted(unknown)}; one of {ROLES}")

        def declare(handler: View) -> View:
            self.specs.append(
                RouteSpec(
                    path,
                    method.upper(),
                    handler,
                    content_types or list(JSON_TYPES),
                    body,
                    query,
                    response,
                    status,
                    tuple(sorted(set(errors))),
                    auth,
                    needed,
                )
            )
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


# --- parsing ---------------------------------------------------------------------------------

_AT = re.compile(r" - at `\$((?:\.\w+|\[[^\]]*\])*)`$")
_MISSING = re.compile(r"missing required field `(\w+)`")
_UNKNOWN = re.compile(r"unknown field `([^`]*)`")


def _invalid(error: msgspec.ValidationError, where: str) -> Invalid:
    """A decoding problem as Invalid: which field, why, and the field's own code if it has one."""
    text = str(error)
    at = _AT.search(text)
    path = at.group(1) if at else ""
    reason = text[: at.start()] if at else text
    names = re.findall(r"\.(\w+)", path)
    missing = _MISSING.search(reason)
    if missing:
        names.append(missing.group(1))
    unknown = _UNKNOWN.search(reason)
    field_name = ".".join(names) if names else where
    if unknown:
        message = f"{where}{path}: unknown field {unknown.group(1)!r}"
        field_name = ".".join([*names, unknown.group(1)])
    elif missing:
        message = f"{field_name} is required"
    else:
        message = f"{field_name}: {reason[0].lower() + reason[1:] if reason else 'invalid'}"
    code = next((FIELD_CODES[n] for n in names if n in FIELD_CODES), "invalid_request")
    return Invalid(message, code, [message])


def _check_text_and_depth(value: Any, path: str = "", depth: int = 0) -> None:
    """No NUL in any text (it is not a character anyone types), no nesting deeper than DynamoDB
    can store."""
    if depth > MAX_DEPTH:
        raise Invalid(f"{path or 'body'} is nested too deeply (at most {MAX_DEPTH} levels)", "invalid_json")
    if isinstance(value, str):
        if "\x00" in value:
            name = path.rsplit(".", 1)[-1]
            raise Invalid(f"{path} contains a NUL character", FIELD_CODES.get(name, "invalid_request"))
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text_and_depth(key, path, depth + 1)
            _check_text_and_depth(item, f"{path}.{key}" if path else str(key), depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text_and_depth(item, f"{path}[{index}]", depth + 1)


def decode_body(raw: bytes | str | None, model: type[msgspec.Struct]) -> Any:
    if not raw:
        raise Invalid("a JSON object body is required", "invalid_json")
    try:
        value = msgspec.json.decode(raw, type=model, strict=True)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, "body") from exc
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError) as exc:
        raise Invalid("the body is not valid JSON", "invalid_json") from exc
    _check_text_and_depth(msgspec.to_builtins(value))
    return value


def decode_query(params: Any, model: type[msgspec.Struct]) -> Any:
    params = dict(params or {})
    _check_text_and_depth(params)
    try:
        return msgspec.convert(params, type=model, strict=False)
    except msgspec.ValidationError as exc:
        raise _invalid(exc, "query") from exc


def path_param(name: str, value: str) -> str:
    """A path segment: not blank, not huge, no NUL or lone surrogates."""
    if (
        not value
        or not value.strip()
        or len(value) > MAX_PATH_PARAM
        or "\x00" in value
        or any("\ud800" <= ch <= "\udfff" for ch in value)
    ):
        raise Invalid(f"{name} must be a non-empty id of at most {MAX_PATH_PARAM} characters", "invalid_path")
    return value


def _view(bp: Blueprint, spec: RouteSpec) -> View:
    code = spec.handler.__code__  # the handler's parameter names (inspect costs a cold start 5 ms)
    accepts = set(code.co_varnames[: code.co_argcount + code.co_kwonlyargcount])

    def view(**params: str) -> Response:
        try:
            request = bp.current_request
            for name, value in params.items():
                path_param(name, value)
            kwargs: dict[str, Any] = dict(params)
            if spec.auth == DRIVER:
                kwargs["me"] = require_driver(request.headers)
            elif spec.auth == STAFF:
                kwargs["me"] = require_staff(request.headers, spec.roles)
            elif spec.auth == MERCHANT:
                kwargs["me"] = require_merchant(request.headers)
            if spec.query is not None:
                kwargs["query"] = decode_query(request.query_params, spec.query)
            if spec.body is not None:
                kwargs["body"] = decode_body(request.raw_body, spec.body)
            return spec.handler(request, **{k: v for k, v in kwargs.items() if k in accepts})
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


def ok(body: Any, status: int = 200) -> Response:
    return Response(
        body=json.dumps(msgspec.to_builtins(body), ensure_ascii=False),
        status_code=status,
        headers={"Content-Type": "application/json"},
    )
