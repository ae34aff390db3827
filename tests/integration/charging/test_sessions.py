"""Charge sessions through the real OCPP handler, services and tables (moto): a charger played by
hand-written OCPP 1.6J frames in the IoT rule's event shape, the driver over HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.charging import devices as charger_handlers
from chalicelib.charging import sessions as charging
from chalicelib.charging.models import ChargingSession, Connector
from chalicelib.payments.models import Wallet
from chalicelib.platform.models import Command
from tests.support.charger import CHARGER, FakeCharger
from tests.support.iot import Recorder
from tests.support.tokens import auth, staff

QR = "demo-charger-1-1"


T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai: peak


@pytest.fixture
def charger(client: Client, published: Recorder) -> FakeCharger:
    fake = FakeCharger(published)
    fake.boot(datetime.now(UTC))
    return fake


def start(
    client: Client, charger: FakeCharger, prepay: int = 5000, who: str = "demo-driver", **extra: Any
) -> Any:
    return client.http.post(
        "/v1/driver/charging/sessions",
        body=json.dumps({"qr_id": QR, "prepay_fen": prepay, **extra}),
        headers=auth(who),
    )


def started(
    client: Client, charger: FakeCharger, now: datetime, prepay: int = 5000, **extra: Any
) -> tuple[str, int]:
    """The driver starts, the charger accepts and starts a transaction. Returns (session id, tx id)."""
    response = start(client, charger, prepay, **extra)
    assert response.status_code == 201, response.body
    session_id = response.json_body["session_id"]
    [remote] = charger.calls("RemoteStartTransaction")[-1:]
    assert remote[3] == {"connectorId": 1, "idTag": session_id}
    charger.reply(remote, {"status": "Accepted"}, now)
    answer = charger.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": session_id, "meterStart": 100_000, "timestamp": now.isoformat()},
        now,
    )
    assert answer[2]["idTagInfo"]["status"] == "Accepted"
    return session_id, answer[2]["transactionId"]


def wallet(user: str = "demo-driver") -> int:
    return int(Wallet.get(user, consistent_read=True).balance_fen)


def test_a_charge_from_start_to_settled_bill(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    assert wallet() == 20000 - 5000
    for minute, wh in ((1, 102_000), (2, 104_000), (3, 106_000)):
        charger.meter(tx, wh, now + timedelta(minutes=minute), now)
    live = client.http.get(f"/v1/driver/charging/sessions/{session_id}", headers=auth()).json_body
    assert live["state"] == "charging" and live["energy_wh"] == 6000 and live["cost_fen"] > 0

    stopped = client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth()).json_body
    assert stopped["state"] == "stopping"
    [remote_stop] = charger.calls("RemoteStopTransaction")
    assert remote_stop[3] == {"transactionId": tx}
    charger.reply(remote_stop, {"status": "Accepted"}, now)
    charger.stop(tx, 107_000, now + timedelta(minutes=4))

    bill = client.http.get(f"/v1/driver/charging/sessions/{session_id}/bill", headers=auth()).json_body
    assert bill["state"] == "completed" and bill["energy_wh"] == 7000
    assert bill["total_fen"] == bill["electricity_fen"] + bill["service_fen"]
    assert bill["refund_fen"] == max(0, 5000 - bill["total_fen"])  # a peak-hour bill can pass the prepay
    assert wallet() == 20000 - bill["total_fen"]
    assert Connector.get(CHARGER, 1).session_id is None
    statuses = {c.command: c.status for c in Command.query(CHARGER)}
    assert statuses == {"RemoteStartTransaction": "acked", "RemoteStopTransaction": "acked"}


def test_a_resent_start_transaction_gets_the_same_transaction_id(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    payload = {"connectorId": 1, "idTag": session_id, "meterStart": 100_000, "timestamp": now.isoformat()}
    again = charger.call("StartTransaction", payload, now)
    assert again[2]["transactionId"] == tx
    repeated = charger.sent[-1]
    charger_handlers.on_frame(repeated, now)
    assert charger.frames()[-1][2]["transactionId"] == tx


def test_three_stops_and_every_message_twice_make_exactly_one_bill(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    for minute, wh in ((1, 103_000), (2, 106_000)):
        charger.meter(tx, wh, now + timedelta(minutes=minute), now)
        charging_handlers_replay(charger.sent[-1], now)
    for _ in range(3):
        response = client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
        assert response.status_code == 200
    [remote_stop] = charger.calls("RemoteStopTransaction")
    charger.reply(remote_stop, {"status": "Accepted"}, now)
    charging_handlers_replay(charger.sent[-1], now)
    charger.stop(tx, 108_000, now + timedelta(minutes=3))
    charging_handlers_replay(charger.sent[-1], now)
    charger.stop(tx, 108_000, now + timedelta(minutes=3))  # the same stop with a new message id
    session = ChargingSession.get(session_id)
    assert session.state == "completed" and session.energy_wh == 8000
    assert len(charger.calls("RemoteStopTransaction")) == 1
    assert wallet() == 20000 - int(session.bill["total_fen"])


def charging_handlers_replay(event: dict[str, Any], now: datetime) -> None:
    result = charger_handlers.on_frame(event, now)
    assert result["result"] in ("duplicate", "ignored"), result


def test_a_charger_that_finished_by_itself_then_gets_a_stop(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    charger.meter(tx, 104_000, now + timedelta(minutes=1), now)
    charger.stop(tx, 105_000, now + timedelta(minutes=2), reason="EVDisconnected")
    before = wallet()
    response = client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
    assert response.json_body["state"] == "completed"
    assert charger.calls("RemoteStopTransaction") == []
    assert wallet() == before


def test_a_silent_charger_suspends_the_session_and_it_completes_when_back(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    charger.meter(tx, 103_000, now + timedelta(minutes=1), now)
    counts = charging.sweep(now + timedelta(minutes=7))
    assert counts["suspended"] == 1
    assert ChargingSession.get(session_id).state == "suspended"
    back = now + timedelta(minutes=20)
    charger.call("BootNotification", {"chargePointVendor": "Demo", "chargePointModel": "DC-120"}, back)
    charger.stop(tx, 109_000, now + timedelta(minutes=15), reason="PowerLoss")
    session = ChargingSession.get(session_id)
    assert session.state == "completed" and session.energy_wh == 9000


def test_a_late_meter_value_after_the_stop_changes_nothing(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    charger.meter(tx, 104_000, now + timedelta(minutes=1), now)
    charger.stop(tx, 105_000, now + timedelta(minutes=2))
    bill = ChargingSession.get(session_id).bill
    charger.meter(tx, 150_000, now + timedelta(minutes=1, seconds=30), now + timedelta(minutes=5))
    assert ChargingSession.get(session_id).bill == bill


def test_a_frozen_account_cannot_charge(client: Client, charger: FakeCharger) -> None:
    response = start(client, charger, who="demo-frozen")
    assert response.status_code == 403 and response.json_body["code"] == "account_frozen"
    assert charger.calls("RemoteStartTransaction") == []


def test_refused_starts_say_why(client: Client, charger: FakeCharger) -> None:
    too_much = start(client, charger, prepay=10**6)
    assert too_much.status_code == 409 and too_much.json_body["code"] == "balance_too_low"
    too_little = start(client, charger, prepay=50)
    assert too_little.status_code == 409 and too_little.json_body["code"] == "prepay_too_low"
    unknown = client.http.post(
        "/v1/driver/charging/sessions", body=json.dumps({"qr_id": "nope"}), headers=auth()
    )
    assert unknown.status_code == 404
    charger.call(
        "StatusNotification",
        {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
        datetime.now(UTC),
    )
    unplugged = start(client, charger)
    assert unplugged.status_code == 409 and unplugged.json_body["code"] == "not_plugged"


def test_the_session_stops_before_the_prepaid_amount_runs_out(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now, prepay=500)  # 5 yuan
    wh = 100_000
    for minute in range(1, 30):
        wh += 500  # 30 kW
        charger.meter(tx, wh, now + timedelta(minutes=minute), now + timedelta(minutes=minute))
        if charger.calls("RemoteStopTransaction"):
            break
    session = ChargingSession.get(session_id)
    assert session.state == "stopping" and session.end_reason == "balance"
    assert int(session.prepaid_fen) - int(session.cost_fen) >= 100  # at least 1 yuan left when stopping


def test_a_malformed_frame_gets_a_callerror_and_the_next_frame_works(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    result = charger.raw(b'[2, "m-1", "Heartbeat"', now)
    assert result["result"] == "rejected"
    error = charger.frames()[-1]
    assert error[0] == 4 and error[2] == "FormationViolation"
    bad = charger.call("StatusNotification", {"connectorId": 1, "status": "Sleeping"}, now, message_id="m-2")
    assert bad[0] == 4 and bad[1] == "m-2"
    fine = charger.call("Heartbeat", {}, now, message_id="m-3")
    assert fine[0] == 3 and "currentTime" in fine[2]


def test_commands_to_an_offline_charger_are_refused_at_once(client: Client, charger: FakeCharger) -> None:
    from chalicelib.platform.models import Device

    Device(CHARGER).update(actions=[Device.online.set(False)])
    response = client.http.post(
        f"/v1/ops/chargers/{CHARGER}/commands",
        body=json.dumps({"action": "Reset", "payload": {"type": "Soft"}}),
        headers=staff(),
    )
    assert response.status_code == 409 and response.json_body["code"] == "charger_offline"
    assert start(client, charger).json_body["code"] == "charger_offline"


def test_staff_commands_are_tracked_to_their_answer(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    sent = client.http.post(
        f"/v1/ops/chargers/{CHARGER}/commands",
        body=json.dumps({"action": "Reset", "payload": {"type": "Soft"}}),
        headers=staff(),
    )
    assert sent.status_code == 202
    [reset] = charger.calls("Reset")
    charger.reply(reset, {"status": "Rejected"}, now)
    listed = client.http.get(f"/v1/ops/chargers/{CHARGER}/commands", headers=staff()).json_body["commands"]
    assert [(c["action"], c["status"], c["detail"]) for c in listed] == [("Reset", "failed", "Rejected")]
    other = client.http.get(f"/v1/ops/chargers/{CHARGER}/commands", headers=staff("other-op", "other-staff"))
    assert other.status_code == 404


def test_staff_force_end_settles_on_the_last_reading(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    charger.meter(tx, 104_000, now + timedelta(minutes=1), now)
    response = client.http.post(f"/v1/ops/charging/sessions/{session_id}/force-end", headers=staff())
    assert response.status_code == 200 and response.json_body["state"] == "completed"
    assert response.json_body["bill"]["energy_wh"] == 4000
    again = client.http.post(f"/v1/ops/charging/sessions/{session_id}/force-end", headers=staff())
    assert again.status_code == 409


def test_a_start_that_never_begins_becomes_abnormal_and_refunds(client: Client, charger: FakeCharger) -> None:
    response = start(client, charger)
    session_id = response.json_body["session_id"]
    counts = charging.sweep(datetime.now(UTC) + timedelta(minutes=5))
    assert counts["abandoned"] == 1
    assert ChargingSession.get(session_id).state == "abnormal"
    assert wallet() == 20000
    abnormal = client.http.get("/v1/ops/charging/abnormal", headers=staff()).json_body["sessions"]
    assert [s["session_id"] for s in abnormal] == [session_id]


def test_refund_requests_follow_the_rules(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    early = client.http.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds",
        body=json.dumps({"amount_fen": 100}),
        headers=auth(),
    )
    assert early.status_code == 409 and early.json_body["code"] == "not_refundable"
    charger.stop(tx, 105_000, now + timedelta(minutes=5))
    settled = ChargingSession.get(session_id)
    total = int(settled.prepaid_fen) - int(settled.refunded_fen)  # refundable: the bill, up to the prepay
    too_much = client.http.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds",
        body=json.dumps({"amount_fen": total + 1}),
        headers=auth(),
    )
    assert too_much.status_code == 422
    fine = client.http.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds",
        body=json.dumps({"amount_fen": total}),
        headers=auth(),
    )
    assert fine.status_code == 202
    other = client.http.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds",
        body=json.dumps({"amount_fen": 1}),
        headers=auth("demo-driver-2"),
    )
    assert other.status_code == 404


def test_charging_waives_parking_in_the_lot(
    client: Client, charger: FakeCharger, published: Recorder
) -> None:
    from chalicelib.parking import devices as handlers
    from tests.support.iot import capture, iot_event

    entered = datetime.now(UTC) - timedelta(hours=3)
    handlers.on_capture(
        iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤B12345")), entered
    )
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now, plate="粤B12345")
    charger.stop(tx, 110_000, now + timedelta(minutes=30))
    quote = client.http.post(
        "/v1/driver/quotes", body=json.dumps({"plate": "粤B12345"}), headers=auth()
    ).json_body
    [waiver] = quote["discounts"]
    assert waiver["kind"] == "charging_waiver" and waiver["session_id"] == session_id
    assert waiver["amount_fen"] == 1000  # 120 minutes = 4 half hours at 2.50
    assert quote["due_fen"] == quote["total_fen"] - 1000


def test_staff_register_an_ebike_station_and_a_socket_charges_by_duration(
    client: Client, published: Recorder
) -> None:
    ops = staff()
    definition = {
        "kind": "duration",
        "unit_minutes": 60,
        "unit_fen": 100,
        "free_minutes": 5,
        "auto_stop_minutes": 120,
    }
    bad = client.http.post(
        "/v1/ops/charging-tariffs",
        headers=ops,
        body=json.dumps(
            {"name": "单车", "kind": "ebike", "definition": {**definition, "auto_stop_minutes": 3000}}
        ),
    )
    assert bad.status_code == 400 and bad.json_body["code"] == "invalid_tariff"
    tariff = client.http.post(
        "/v1/ops/charging-tariffs",
        headers=ops,
        body=json.dumps({"name": "单车", "kind": "ebike", "definition": definition}),
    ).json_body
    assert tariff["effective_from"] > datetime.now(UTC).isoformat()[:19]  # the next midnight
    station = client.http.post(
        "/v1/ops/stations",
        headers=ops,
        body=json.dumps(
            {
                "station_id": "bike-station",
                "name": "单车棚",
                "areas": {"B": {"name": "B区", "power_limit_w": 10000}},
            }
        ),
    )
    assert station.status_code == 201
    assert (
        client.http.put(
            "/v1/ops/stations/bike-station/tariff",
            headers=ops,
            body=json.dumps({"tariff_id": tariff["tariff_id"]}),
        ).status_code
        == 200
    )
    created = client.http.post(
        "/v1/ops/chargers",
        headers=ops,
        body=json.dumps(
            {
                "charger_id": "bike-1",
                "station_id": "bike-station",
                "kind": "ebike",
                "connector_count": 10,
                "rated_power_w": 1000,
                "current_type": "AC",
                "model": "EB-10",
                "firmware_main": "2.1",
                "firmware_screen": "1.0",
            }
        ),
    ).json_body
    assert len(created["qr_ids"]) == 10
    listed = client.http.get("/v1/ops/stations/bike-station", headers=ops).json_body
    assert (
        listed["chargers"][0]["firmware_screen"] == "1.0" and len(listed["chargers"][0]["connectors"]) == 10
    )
    assert (
        client.http.get("/v1/ops/stations/bike-station", headers=staff("other-op", "other-staff")).status_code
        == 404
    )

    # the tariff takes effect at midnight: a start now is refused, after it the socket charges
    socket = FakeCharger(published, "bike-1")
    now = datetime.now(UTC)
    socket.call("BootNotification", {"chargePointVendor": "EB", "chargePointModel": "EB-10"}, now)
    socket.call("StatusNotification", {"connectorId": 3, "errorCode": "NoError", "status": "Preparing"}, now)
    early = client.http.post(
        "/v1/driver/charging/sessions",
        body=json.dumps({"qr_id": "bike-1-3", "prepay_fen": 500}),
        headers=auth(),
    )
    assert early.status_code == 409 and early.json_body["code"] == "no_tariff"
    from chalicelib.charging.models import ChargingTariffVersion

    version = ChargingTariffVersion.get(tariff["tariff_id"], 1)
    version.update(actions=[ChargingTariffVersion.effective_from.set(now - timedelta(minutes=1))])
    response = client.http.post(
        "/v1/driver/charging/sessions",
        body=json.dumps({"qr_id": "bike-1-3", "prepay_fen": 500}),
        headers=auth(),
    )
    assert response.status_code == 201, response.body
    session_id = response.json_body["session_id"]
    [remote] = socket.calls("RemoteStartTransaction")
    socket.reply(remote, {"status": "Accepted"}, now)
    tx = socket.call(
        "StartTransaction",
        {"connectorId": 3, "idTag": session_id, "meterStart": 0, "timestamp": now.isoformat()},
        now,
    )[2]["transactionId"]
    socket.call(
        "MeterValues",
        {
            "connectorId": 3,
            "transactionId": tx,
            "meterValue": [
                {"timestamp": (now + timedelta(minutes=130)).isoformat(), "sampledValue": [{"value": "300"}]}
            ],
        },
        now + timedelta(minutes=130),
    )
    assert ChargingSession.get(session_id).end_reason == "auto_stop"  # the 2-hour limit
    assert len(socket.calls("RemoteStopTransaction")) == 1
    socket.call(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 300, "timestamp": (now + timedelta(minutes=130)).isoformat()},
        now + timedelta(minutes=130),
    )
    bill = ChargingSession.get(session_id).bill
    assert bill["total_fen"] == 200 and bill["ebike"]["units"] == 2  # capped at 2 hours, 1 yuan each
