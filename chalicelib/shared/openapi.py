"""The OpenAPI 3.1 document of the HTTP API, generated from the routes' declarations
(`shared.http.Routes`) and their msgspec models: every route with its path and query
parameters, request body, a response schema per status (the error shape for every error
status) and its security. Pure: the app hands in its contexts' route collections."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from chalicelib.shared.http import DRIVER, MERCHANT, SIGNATURE, STAFF, ErrorBody, Routes, RouteSpec

REF = "#/components/schemas/{name}"
PATH_PARAM_SCHEMA = {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"\S"}
REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "The request is not valid (bad JSON, a field out of its bounds, an unknown field)",
    401: "Not authenticated (no, expired or invalid token; a bad provider signature)",
    403: "Authenticated but not allowed (wrong role, another operator's resource)",
    404: "No such resource (or not the caller's)",
    409: "The current state does not allow it",
    410: "It existed but is no longer valid",
    415: "The body is not application/json",
    422: "Well-formed but contradicts what it refers to",
    503: "A dependency is busy; retry after the Retry-After header",
}
SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A Cognito ID token (a token signed by the local stack's key locally). Drivers "
        "carry the `driver` group, staff the `staff` group and `custom:operator_id`.",
    },
    "sandboxSignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Sandbox-Signature",
        "description": "The sandbox provider's RSA-SHA256 signature (base64) over "
        "`{Sandbox-Timestamp}\\n{Sandbox-Nonce}\\n{body}\\n`; the two other headers are required too.",
    },
    "wechatpaySignature": {
        "type": "apiKey",
        "in": "header",
        "name": "Wechatpay-Signature",
        "description": "WeChat Pay API v3: RSA-SHA256 (base64) by the platform key named by "
        "`Wechatpay-Serial` (its public key id) over "
        "`{Wechatpay-Timestamp}\\n{Wechatpay-Nonce}\\n{body}\\n`; the timestamp must be within 300 s; "
        "the body's `resource` is AES-256-GCM encrypted with the APIv3 key.",
    },
}
# Provider callbacks other than the sandbox's, by path: their signature scheme (None: signed in
# the body, which OpenAPI security schemes cannot name; `x-signature` says how) and body type.
ALIPAY_SIGN = (
    "Alipay: the form field `sign`, RSA2 (SHA256withRSA, base64) by Alipay's key over the other fields "
    "but `sign_type`, sorted by name and joined as `k=v&...`"
)
# Alipay reads its callback's answer as text: `success` stops its retries.
TEXT_ANSWERS = {"/v1/pay/alipay/notify": "success"}
SIGNED_CALLBACKS: dict[str, tuple[str | None, str]] = {
    "/v1/pay/wechat/notify": ("wechatpaySignature", "application/json"),
    "/v1/pay/alipay/notify": (None, "application/x-www-form-urlencoded"),
}


def _context(spec: RouteSpec) -> str:
    return spec.handler.__module__.split(".")[1] if spec.handler.__module__.count(".") >= 1 else "app"


def _summary(spec: RouteSpec) -> str:
    doc = (spec.handler.__doc__ or "").strip()
    return doc.splitlines()[0] if doc else spec.handler.__name__.replace("_", " ")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _query_parameters(model: type[msgspec.Struct], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = components[model.__name__]
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _operation(
    spec: RouteSpec, refs: dict[Any, dict[str, Any]], components: dict[str, Any]
) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": dict(PATH_PARAM_SCHEMA)}
        for name in spec.path_params
    ]
    if spec.query is not None:
        parameters += _query_parameters(spec.query, components)
    ok_response: dict[str, Any] = {"description": REASONS.get(spec.status, "OK")}
    if spec.response is not None:
        ok_response["content"] = _json(refs[spec.response])
    elif spec.path in TEXT_ANSWERS:
        ok_response["content"] = {
            "text/plain": {"schema": {"type": "string", "const": TEXT_ANSWERS[spec.path]}}
        }
    responses: dict[str, Any] = {str(spec.status): ok_response}
    for status in spec.statuses:
        responses[str(status)] = {
            "description": REASONS.get(status, "Error"),
            "content": _json(refs[ErrorBody]),
        }
    operation: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": _summary(spec),
        "tags": [_context(spec)],
        "responses": responses,
    }
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        operation["requestBody"] = {"required": True, "content": _json(refs[spec.body])}
    if spec.auth in (DRIVER, STAFF, MERCHANT):
        operation["security"] = [{"bearer": []}]
        operation["x-role"] = spec.auth
        if spec.roles:
            operation["x-staff-roles"] = list(spec.roles)
    elif spec.auth == SIGNATURE:
        scheme, media = SIGNED_CALLBACKS.get(spec.path, ("sandboxSignature", "application/json"))
        operation["security"] = [{scheme: []}] if scheme else []
        if scheme is None:
            operation["x-signature"] = ALIPAY_SIGN
        operation["requestBody"] = {
            "required": True,
            "content": {
                media: {"schema": {"type": "object", "description": "the provider's signed notification"}}
            },
        }
    else:
        operation["security"] = []
    return operation


def document(routes: Iterable[Routes], title: str = "parkcharge", version: str = "1") -> dict[str, Any]:
    specs = [spec for collection in routes for spec in collection.specs]
    types: list[Any] = [ErrorBody]
    for spec in specs:
        for model in (spec.body, spec.query, spec.response):
            if model is not None and model not in types:
                types.append(model)
    schemas, components = msgspec.json.schema_components(types, ref_template=REF)
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, dict[str, Any]] = {}
    for spec in specs:
        paths.setdefault(spec.path, {})[spec.method.lower()] = _operation(spec, refs, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Parking lots and EV / e-bike chargers. Money is integer fen; times are "
            "UTC ISO 8601. Errors are `{code, message, errors?}`.",
        },
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(components.items())), "securitySchemes": SECURITY_SCHEMES},
    }
