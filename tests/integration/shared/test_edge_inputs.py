"""Inputs that used to crash the HTTP edge get a 4xx with `{"code", "message"}`: JSON nested
thousands deep on every JSON route, numbers that overflow, floats and bools for integers, lone
surrogates, NUL, an empty `sub` claim, empty path segments, unknown fields."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from chalice.test import Client

from infra.local.keys import mint_token
from tests.conftest import KEYS
from tests.support.tokens import auth, staff

DEEP = ('{"a":' * 5000 + "1" + "}" * 5000).encode()
DEEP_LIST = ("[" * 100_000 + "]" * 100_000).encode()


def _json_routes() -> list[tuple[str, str]]:
    from chalicelib.charging import api as charging
    from chalicelib.parking import api as parking
    from chalicelib.payments import api as payments
    from chalicelib.platform import api as platform

    specs = [s for api in (platform, parking, payments, charging) for s in api.routes.specs]
    return [(s.method, s.path) for s in specs if s.method in ("POST", "PUT")]


def _concrete(path: str) -> str:
    return re.sub(r"{\w+}", "demo-x", path)


def _headers_for(path: str) -> dict[str, str]:
    return staff() if path.startswith("/v1/ops/") else auth()


def send(client: Client, method: str, path: str, raw: bytes | str, headers: dict[str, str]) -> Any:
    return getattr(client.http, method.lower())(path, body=raw, headers=headers)


@pytest.mark.parametrize(("method", "path"), _json_routes())
def test_every_json_route_refuses_json_nested_thousands_deep(client: Client, method: str, path: str) -> None:
    for raw in (DEEP, DEEP_LIST, b'{"x":' + DEEP_LIST + b"}"):
        response = send(client, method, _concrete(path), raw, _headers_for(path))
        assert 400 <= response.status_code < 500, (path, response.status_code, response.body[:200])
        assert set(response.json_body) >= {"code", "message"}


@pytest.mark.parametrize(("method", "path"), _json_routes())
def test_every_json_route_refuses_lone_surrogates_and_out_of_range_numbers(
    client: Client, method: str, path: str
) -> None:
    for raw in ('{"plate": "\\udc80"}', '{"amount_fen": 1e400}', '{"n": ' + "9" * 5000 + "}"):
        response = send(client, method, _concrete(path), raw, _headers_for(path))
        assert 400 <= response.status_code < 500, (path, raw[:30], response.status_code)


def test_integers_refuse_floats_bools_and_overflow(client: Client) -> None:
    for amount in ("10.0", "true", "1e400", str(10**30)):
        raw = '{"quote_id": "q-1", "amount_fen": ' + amount + "}"
        response = client.http.post("/v1/driver/payments", body=raw, headers=auth())
        assert response.status_code == 400 and response.json_body["code"] == "invalid_amount", amount
        assert "amount_fen" in response.json_body["message"]


def test_nul_in_a_plate_is_invalid_plate(client: Client) -> None:
    for path in ("/v1/driver/plates", "/v1/driver/quotes"):
        response = client.http.post(path, body=json.dumps({"plate": "粤B\u00001234"}), headers=auth())
        assert response.status_code == 400 and response.json_body["code"] == "invalid_plate", path
    response = client.http.get("/v1/driver/visits?plate=%E7%B2%A4B%001234", headers=auth())
    assert response.status_code == 400 and response.json_body["code"] == "invalid_plate"


def test_unknown_fields_in_a_request_body_are_refused_by_name(client: Client) -> None:
    response = client.http.post(
        "/v1/driver/plates", body=json.dumps({"plate": "粤B1", "x": 1}), headers=auth()
    )
    assert response.status_code == 400 and response.json_body["code"] == "invalid_request"
    assert "'x'" in response.json_body["message"]


def test_an_empty_sub_claim_is_401(client: Client) -> None:
    for sub in ("", "   "):
        token = mint_token(KEYS, sub, ["driver"])
        response = client.http.get("/v1/driver/plates", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401 and response.json_body["code"] == "invalid_token", sub


@pytest.mark.parametrize(
    "path",
    [
        "/v1/driver/quotes/%20",
        "/v1/driver/quotes/ ",
        "/v1/driver/payments/%20",
        "/v1/driver/charging/sessions/%20",
        "/v1/ops/lots/%20",
        "/v1/ops/tariffs/%20",
        "/v1/ops/devices/%20/commands",
        "/v1/driver/quotes//",
        "/v1/driver/quotes/" + "x" * 2000,
    ],
)
def test_an_empty_or_huge_path_segment_is_a_4xx(client: Client, path: str) -> None:
    headers = staff() if path.startswith("/v1/ops/") else auth()
    response = client.http.get(path, headers=headers)
    assert 400 <= response.status_code < 500, (path, response.status_code, response.body[:200])
    assert "code" in response.json_body


def test_a_preview_of_year_9999_and_huge_durations_is_400(client: Client) -> None:
    free = {"kind": "free"}
    for body, code in (
        ({"tariff": free, "entered_at": "9999-12-31T23:00:00Z", "duration_minutes": 600}, "invalid_time"),
        ({"tariff": free, "entered_at": "9999-12-31T23:00:00+14:00"}, "invalid_time"),
        ({"tariff": free, "duration_minutes": 10**12}, "invalid_duration"),
        ({"tariff": free, "duration_minutes": 10**40}, "invalid_duration"),
    ):
        response = client.http.post("/v1/ops/tariffs/preview", body=json.dumps(body), headers=staff())
        assert response.status_code == 400 and response.json_body["code"] == code, body
    raw = '{"tariff": {"kind": "free"}, "duration_minutes": 1e400}'
    response = client.http.post("/v1/ops/tariffs/preview", body=raw, headers=staff())
    assert response.status_code == 400 and response.json_body["code"] == "invalid_duration"
