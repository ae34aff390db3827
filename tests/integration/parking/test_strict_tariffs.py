"""Tariff definitions are validated strictly: a missing `kind`, an unknown field (a misspelt cap)
or an out-of-range number is a 400 `invalid_tariff` listing every problem, never a free tariff
or a silently dropped cap."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from tests.support.tokens import staff

DURATION = {"kind": "duration", "unit_minutes": 60, "unit_fen": 200, "cap_per_cycle_fen": 2000}


def post(client: Client, path: str, body: dict) -> Any:
    return client.http.post(path, body=json.dumps(body), headers=staff())


def test_a_definition_without_kind_is_refused_not_free(client: Client) -> None:
    response = post(client, "/v1/ops/tariffs", {"name": "no kind", "definition": {"amount_fen": 500}})
    assert response.status_code == 400 and response.json_body["code"] == "invalid_tariff"
    assert any("kind is required" in e for e in response.json_body["errors"])
    preview = post(client, "/v1/ops/tariffs/preview", {"tariff": {}, "duration_minutes": 60})
    assert preview.status_code == 400 and preview.json_body["code"] == "invalid_tariff"


def test_unknown_fields_are_listed_not_dropped(client: Client) -> None:
    misspelt = {**DURATION, "cap_per_cycle": 1000}
    del misspelt["cap_per_cycle_fen"]
    response = post(client, "/v1/ops/tariffs", {"name": "typo", "definition": misspelt})
    assert response.status_code == 400 and response.json_body["code"] == "invalid_tariff"
    assert response.json_body["errors"] == ["unknown field 'cap_per_cycle'"]
    segments = {
        "kind": "segments",
        "segments": [{"start": "00:00", "end": "24:00", "unit_minutes": 60, "unit_fen": 100, "cap": 5}],
    }
    response = post(client, "/v1/ops/tariffs", {"name": "typo", "definition": segments})
    assert response.status_code == 400 and "segments[0].unknown field 'cap'" in response.json_body["errors"]
    tiered = {"kind": "tiered", "bands": [{"up_to_minutes": 60, "amount_fen": 100, "x": 1}], "amount_fen": 1}
    errors = post(client, "/v1/ops/tariffs", {"name": "t", "definition": tiered}).json_body["errors"]
    assert "bands[0].unknown field 'x'" in errors and "unknown field 'amount_fen'" in errors


def test_unknown_fields_around_the_definition_are_refused(client: Client) -> None:
    response = post(client, "/v1/ops/tariffs", {"name": "x", "definition": DURATION, "cap": 1})
    assert response.status_code == 400 and "'cap'" in response.json_body["message"]


def test_overflowing_numbers_in_a_definition_are_refused(client: Client) -> None:
    for value in (10**12, 10**40):
        response = post(
            client, "/v1/ops/tariffs", {"name": "big", "definition": {**DURATION, "unit_fen": value}}
        )
        assert response.status_code == 400 and response.json_body["code"] == "invalid_tariff", value
    raw = '{"name": "inf", "definition": {"kind": "per_visit", "amount_fen": 1e400}}'
    response = client.http.post("/v1/ops/tariffs", body=raw, headers=staff())
    assert response.status_code == 400 and response.json_body["code"] == "invalid_tariff"


def test_a_valid_definition_still_round_trips(client: Client) -> None:
    response = post(client, "/v1/ops/tariffs", {"name": "ok", "definition": DURATION})
    assert response.status_code == 201
    stored = response.json_body["definition"]
    again = client.http.put(
        f"/v1/ops/tariffs/{response.json_body['tariff_id']}",
        body=json.dumps({"definition": stored}),
        headers=staff(),
    )
    assert again.status_code == 201 and again.json_body["definition"] == stored
