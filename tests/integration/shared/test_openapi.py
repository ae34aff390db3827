"""The OpenAPI document: every Chalice route is in it, it is a valid OpenAPI 3.1 document, the
committed docs/openapi.json is what the code generates, and the app serves it."""

from __future__ import annotations

import json

from chalice.test import Client
from openapi_spec_validator import validate

from app import app, openapi_document
from infra.openapi import TARGET, render


def test_every_chalice_route_is_documented() -> None:
    documented = {
        (path, method.upper()) for path, ops in openapi_document()["paths"].items() for method in ops
    }
    routed = {(path, method) for path, methods in app.routes.items() for method in methods}
    assert routed - documented == set(), "routes missing from the OpenAPI document"
    assert documented - routed == set(), "documented operations that no route serves"


def test_the_document_is_valid_openapi_3_1() -> None:
    document = openapi_document()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_operation_has_responses_with_schemas_and_security() -> None:
    for path, operations in openapi_document()["paths"].items():
        for method, operation in operations.items():
            assert "security" in operation, (path, method)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/ErrorBody"
                    }, (path, method, status)
                else:
                    assert "content" in response, (path, method, status)
            if "{" in path:
                assert "400" in operation["responses"], (path, method)
            if operation["security"]:
                assert "401" in operation["responses"], (path, method)


def test_the_committed_document_is_not_stale() -> None:
    assert TARGET.read_text(encoding="utf-8") == render(), "docs/openapi.json is stale: run `make openapi`"


def test_the_app_serves_the_document(client: Client) -> None:
    response = client.http.get("/v1/openapi.json")
    assert response.status_code == 200
    assert json.loads(response.body) == openapi_document()
