"""Who may call what: drivers see only their own plates, staff only their operator's lots."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from chalicelib.parking import devices as handlers
from tests.support.iot import capture, iot_event
from tests.support.tokens import auth, staff


def test_a_driver_sees_only_their_own_plates_and_visits(client: Client) -> None:
    handlers.on_capture(
        iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤A99999")),
        datetime.now(UTC),
    )
    mine = client.http.get("/v1/driver/plates", headers=auth())
    assert [p["plate"] for p in mine.json_body["plates"]] == ["粤B12345"]
    theirs = client.http.get("/v1/driver/visits?plate=粤A99999", headers=auth())
    assert theirs.status_code == 403 and theirs.json_body["code"] == "not_your_plate"
    quote = client.http.post("/v1/driver/quotes", body=json.dumps({"plate": "粤A99999"}), headers=auth())
    assert quote.status_code == 403
    owner = client.http.get("/v1/driver/visits?plate=粤A99999", headers=auth("demo-driver-2"))
    assert owner.status_code == 200 and len(owner.json_body["visits"]) == 1


def test_a_plate_belongs_to_one_account(client: Client) -> None:
    taken = client.http.post("/v1/driver/plates", body=json.dumps({"plate": "粤A99999"}), headers=auth())
    assert taken.status_code == 409 and taken.json_body["code"] == "plate_taken"
    fresh = client.http.post("/v1/driver/plates", body=json.dumps({"plate": "粤b 54321"}), headers=auth())
    assert fresh.status_code == 201 and fresh.json_body["plate"] == "粤B54321"


def test_staff_see_their_operators_lots_only(client: Client) -> None:
    lots = client.http.get("/v1/ops/lots", headers=staff())
    assert [lot["lot_id"] for lot in lots.json_body["lots"]] == ["demo-lot"]
    lot = client.http.get("/v1/ops/lots/demo-lot", headers=staff()).json_body
    assert lot["tariff_plan"]["small"]["tariff_id"] == "demo-small@demo-op"
    other = staff("other-op", "other-staff")
    for path in (
        "/v1/ops/lots/demo-lot",
        "/v1/ops/lots/demo-lot/visits",
        "/v1/ops/lots/demo-lot/payments",
        "/v1/ops/lots/demo-lot/records?type=abnormal_entry",
        "/v1/ops/devices/demo-entry-cam/commands",
    ):
        response = client.http.get(path, headers=other)
        assert response.status_code == 404, path
    assert client.http.get("/v1/ops/lots", headers=auth()).status_code == 403  # a driver
    no_scope = auth("s", ["staff"])
    assert client.http.get("/v1/ops/lots", headers=no_scope).json_body["code"] == "staff_only"


def test_staff_follow_cars_in_the_lot_records_and_commands(client: Client) -> None:
    t = datetime.now(UTC) - timedelta(hours=3)
    for minutes in (0, 30):
        handlers.on_capture(
            iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤B12345")),
            t + timedelta(minutes=minutes),
        )
    inside = client.http.get("/v1/ops/lots/demo-lot/visits?status=inside", headers=staff()).json_body[
        "visits"
    ]
    assert [v["status"] for v in inside] == ["inside"]
    records = client.http.get("/v1/ops/lots/demo-lot/records?type=abnormal_entry", headers=staff()).json_body
    assert len(records["records"]) == 1 and records["records"][0]["plate"] == "粤B12345"
    sent = client.http.get("/v1/ops/devices/demo-entry-cam/commands", headers=staff()).json_body["commands"]
    assert {c["command"] for c in sent} == {"open_gate", "display"} and len(sent) == 4
    bad = client.http.get("/v1/ops/lots/demo-lot/records?type=everything", headers=staff())
    assert bad.status_code == 400 and bad.json_body["code"] == "invalid_type"
