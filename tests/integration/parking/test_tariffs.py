"""Staff manage tariffs over HTTP: create with validation, version, assign to a lot, preview; a
visit keeps the tariff version it entered under; no_repeat holds across visits at the gate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import Visit
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import staff

ENTRY, EXIT, PLATE = "demo-entry-cam", "demo-exit-cam", "粤B12345"

EXAMPLES: dict[str, dict[str, Any]] = {
    "per_visit": {"kind": "per_visit", "amount_fen": 1000, "free_minutes": 15},
    "duration": {
        "kind": "duration",
        "free_minutes": 15,
        "first_block_minutes": 120,
        "first_block_fen": 500,
        "unit_minutes": 60,
        "unit_fen": 200,
        "cap_per_cycle_fen": 2500,
    },
    "segments": {
        "kind": "segments",
        "segments": [
            {"start": "08:00", "end": "20:00", "unit_minutes": 60, "unit_fen": 300, "cap_fen": 2000},
            {"start": "20:00", "end": "08:00", "unit_minutes": 60, "unit_fen": 100, "cap_fen": 500},
        ],
    },
    "tiered": {
        "kind": "tiered",
        "bands": [{"up_to_minutes": 120, "amount_fen": 500}, {"up_to_minutes": 1440, "amount_fen": 2000}],
    },
    "free": {"kind": "free"},
}


def send(client: Client, method: str, path: str, body: object, headers: dict[str, str] | None = None) -> Any:
    return getattr(client.http, method)(path, body=json.dumps(body), headers=headers or staff())


def test_the_preview_answers_for_every_kind_with_parts_that_sum_to_the_total(client: Client) -> None:
    expected = {
        "per_visit": 2000,
        "duration": 2500 + 500,
        "segments": 2000 + 500 + 600,
        "tiered": 2000 + 500,
        "free": 0,
    }
    for kind, definition in EXAMPLES.items():
        response = send(
            client,
            "post",
            "/v1/ops/tariffs/preview",
            {
                "tariff": definition,
                "entered_at": "2026-11-22T09:00:00+08:00",
                "exited_at": "2026-11-23T10:00:00+08:00",
            },
        )
        assert response.status_code == 200, response.body
        body = response.json_body
        assert body["total_fen"] == expected[kind], (kind, body)
        assert sum(line["amount_fen"] for line in body["breakdown"]) == body["total_fen"]


def test_a_preview_by_duration_with_a_lots_plan_and_a_holiday(client: Client) -> None:
    response = send(
        client,
        "post",
        "/v1/ops/tariffs/preview",
        {
            "lot_id": "demo-lot",
            "vehicle_class": "small",
            "entered_at": "2026-12-31T10:00:00+08:00",
            "duration_minutes": 2 * 24 * 60,
        },
    )
    body = response.json_body
    assert response.status_code == 200
    holidays = [line for line in body["breakdown"] if line.get("holiday")]
    assert len(holidays) == 1 and holidays[0]["amount_fen"] == 1000  # 2027-01-01 in the demo calendar
    assert body["total_fen"] == 3000 + 1000
    assert body["tariff"]["tariff_id"] == "demo-small@demo-op"


def test_invalid_tariffs_get_every_problem_back(client: Client) -> None:
    bad = {
        "kind": "segments",
        "segments": [
            {"start": "08:00", "end": "20:00", "unit_minutes": 0, "unit_fen": -1},
            {"start": "21:00", "end": "08:00", "unit_minutes": 60, "unit_fen": 100},
        ],
    }
    response = send(client, "post", "/v1/ops/tariffs", {"name": "夜间", "definition": bad})
    assert response.status_code == 400
    body = response.json_body
    assert body["code"] == "invalid_tariff"
    assert any("unit_minutes" in e for e in body["errors"]) and any("unit_fen" in e for e in body["errors"])
    preview = send(
        client, "post", "/v1/ops/tariffs/preview", {"tariff": {"kind": "duration"}, "duration_minutes": 5}
    )
    assert preview.status_code == 400 and preview.json_body["code"] == "invalid_tariff"
    no_time = send(client, "post", "/v1/ops/tariffs/preview", {"tariff": EXAMPLES["free"]})
    assert no_time.status_code == 400 and no_time.json_body["code"] == "invalid_duration"


def test_versions_and_assignment_and_a_visit_keeps_its_version(client: Client, published: Recorder) -> None:
    created = send(client, "post", "/v1/ops/tariffs", {"name": "按次", "definition": EXAMPLES["per_visit"]})
    assert created.status_code == 201
    tariff_id = created.json_body["tariff_id"]
    assert created.json_body["version"] == 1
    plan = {c: {"tariff_id": tariff_id, "holiday_tariff_id": None} for c in ("small", "large", "other")}
    assigned = send(client, "put", "/v1/ops/lots/demo-lot/tariff-plan", {**plan, "grace_minutes": 10})
    assert assigned.status_code == 200 and assigned.json_body["grace_minutes"] == 10

    entered = datetime.now(UTC) - timedelta(hours=1)
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), entered)
    changed = send(
        client,
        "put",
        f"/v1/ops/tariffs/{tariff_id}",
        {"definition": {**EXAMPLES["per_visit"], "amount_fen": 5000}},
    )
    assert changed.status_code == 201 and changed.json_body["version"] == 2
    assert (
        client.http.get(f"/v1/ops/tariffs/{tariff_id}?version=1", headers=staff()).json_body["version"] == 1
    )

    result = handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), datetime.now(UTC))
    assert result["due_fen"] == 1000  # priced with version 1, in force at entry
    [visit] = Visit.query(f"demo-lot#{PLATE}")
    assert visit.tariff_ref["version"] == 1

    listed = client.http.get("/v1/ops/tariffs", headers=staff()).json_body["tariffs"]
    assert {(t["tariff_id"], t["version"]) for t in listed} >= {(tariff_id, 2)}


def test_another_operators_tariffs_cannot_be_used_or_seen(client: Client) -> None:
    other = staff("other-op", "other-staff")
    assert client.http.get("/v1/ops/tariffs/demo-small@demo-op", headers=other).status_code == 404
    plan = {c: {"tariff_id": "demo-small@demo-op"} for c in ("small", "large", "other")}
    response = send(client, "put", "/v1/ops/lots/other-lot/tariff-plan", plan, other)
    assert response.status_code == 404 and response.json_body["code"] == "tariff_not_found"
    preview = send(
        client, "post", "/v1/ops/tariffs/preview", {"lot_id": "demo-lot", "duration_minutes": 60}, other
    )
    assert preview.status_code == 404


def test_no_repeat_holds_the_cap_across_visits_at_the_gate(client: Client, published: Recorder) -> None:
    definition = {**EXAMPLES["duration"], "repeat": "no_repeat"}
    tariff_id = send(
        client, "post", "/v1/ops/tariffs", {"name": "不重复", "definition": definition}
    ).json_body["tariff_id"]
    send(
        client,
        "put",
        "/v1/ops/lots/demo-lot/tariff-plan",
        {c: {"tariff_id": tariff_id} for c in ("small", "large", "other")},
    )
    t0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), t0)
    first = handlers.on_capture(
        iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), t0 + timedelta(hours=12)
    )
    assert first["due_fen"] == 2500  # capped
    # the cashier settles it by hand in real life; here the visit is marked paid to let it out
    [visit] = Visit.query(f"demo-lot#{PLATE}")
    visit.update(
        actions=[
            Visit.paid_fen.set(2500),
            Visit.paid_at.set(t0 + timedelta(hours=12)),
            Visit.priced_until.set(t0 + timedelta(hours=12)),
        ]
    )
    assert (
        handlers.on_capture(
            iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), t0 + timedelta(hours=12, minutes=1)
        )["result"]
        == "exited"
    )
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), t0 + timedelta(hours=14))
    second = handlers.on_capture(
        iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), t0 + timedelta(hours=17)
    )
    assert second == {"result": "exited", "visit_id": second["visit_id"], "due_fen": 0}
