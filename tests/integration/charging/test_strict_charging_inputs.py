"""Charging tariffs refuse unknown fields; a charging preview is bounded (30 years of readings is
a 400, answered at once, not a hang); start and refund refuse floats and bools for fen."""

from __future__ import annotations

import json
import time
from typing import Any

from chalice.test import Client

from tests.support.tokens import auth, staff

UNIFORM = {"kind": "uniform", "electricity": 8000, "service": 4000}
PREVIEW = "/v1/ops/charging-tariffs/preview"


def post(client: Client, path: str, body: dict, headers: dict | None = None) -> Any:
    return client.http.post(path, body=json.dumps(body), headers=headers or staff())


def test_a_charging_preview_spanning_30_years_is_refused_quickly(client: Client) -> None:
    started = time.monotonic()
    by_readings = post(
        client,
        PREVIEW,
        {"definition": UNIFORM, "readings": [["2026-01-01T00:00:00Z", 0], ["2056-01-01T00:00:00Z", 10_000]]},
    )
    by_minutes = post(
        client,
        PREVIEW,
        {"definition": UNIFORM, "started_at": "2026-01-01T00:00:00Z", "minutes": 30 * 366 * 1440},
    )
    assert time.monotonic() - started < 5
    assert by_readings.status_code == 400 and by_readings.json_body["code"] == "invalid_preview"
    assert by_minutes.status_code == 400


def test_a_charging_preview_in_year_9999_is_refused(client: Client) -> None:
    response = post(
        client, PREVIEW, {"definition": UNIFORM, "started_at": "9999-12-31T23:00:00Z", "minutes": 600}
    )
    assert response.status_code == 400 and response.json_body["code"] == "invalid_time"


def test_a_short_charging_preview_still_bills(client: Client) -> None:
    response = post(
        client,
        PREVIEW,
        {"definition": UNIFORM, "started_at": "2026-01-01T00:00:00Z", "minutes": 60, "energy_wh": 10_000},
    )
    assert response.status_code == 200 and response.json_body["total_fen"] == 1200  # 1.2 yuan/kWh × 10 kWh


def test_charging_tariffs_refuse_unknown_and_missing_fields(client: Client) -> None:
    for definition, problem in (
        ({**UNIFORM, "servce": 1}, "unknown field 'servce'"),
        ({"electricity": 1, "service": 1}, "kind must be uniform or time_of_use"),
        ({"kind": "uniform", "electricity": 10**12, "service": 1}, "electricity must be at most"),
    ):
        response = post(client, "/v1/ops/charging-tariffs", {"name": "t", "definition": definition})
        assert response.status_code == 400 and response.json_body["code"] == "invalid_tariff", definition
        assert any(problem in e for e in response.json_body["errors"]), response.json_body
    bike = {"kind": "duration", "unit_minutes": 60, "unit_fen": 100, "bands": []}
    response = post(client, "/v1/ops/charging-tariffs", {"name": "b", "kind": "ebike", "definition": bike})
    assert response.status_code == 400 and "unknown field 'bands'" in response.json_body["errors"]


def test_fen_fields_refuse_floats_and_bools(client: Client) -> None:
    for value in ("100.0", "true", "1e400"):
        raw = '{"qr_id": "demo-charger-1-1", "prepay_fen": ' + value + "}"
        response = client.http.post("/v1/driver/charging/sessions", body=raw, headers=auth())
        assert response.status_code == 400 and response.json_body["code"] == "invalid_amount", value
        raw = '{"amount_fen": ' + value + "}"
        response = client.http.post("/v1/driver/charging/sessions/s-1/refunds", body=raw, headers=auth())
        assert response.status_code == 400 and response.json_body["code"] == "invalid_amount", value
