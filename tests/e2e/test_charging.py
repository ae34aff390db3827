"""Charging end to end: a charger played by the simulator over real MQTT (OCPP 1.6J frames through
the broker and the rules bridge), the driver's app over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from infra.local.charger_simulator import Charger
from tests.e2e.support import ARRIVAL_TIMEOUT, Api, Stack

pytestmark = pytest.mark.e2e

CHARGER = "demo-charger-1"


@pytest.fixture
def charger(stack: Stack) -> Iterator[Charger]:
    with Charger(
        CHARGER, stack.mqtt_host, stack.mqtt_port, timeout=ARRIVAL_TIMEOUT, certs_dir=stack.certs_dir
    ) as device:
        assert device.boot()[2]["status"] == "Accepted"
        yield device


def test_stop_three_times_and_every_frame_twice_give_exactly_one_right_bill(
    stack: Stack, charger: Charger
) -> None:
    driver = Api(stack.api, stack.token("demo-driver", ["driver"]))
    balance = driver.get("/v1/driver/wallet").json()["balance_fen"]
    charger.status(1, "Preparing")
    started = driver.post("/v1/driver/charging/sessions", {"qr_id": "demo-charger-1-1", "prepay_fen": 5000})
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    remote = charger.wait(
        lambda: charger.remote_starts[-1] if charger.remote_starts else None, "remote start"
    )
    assert remote == {"connectorId": 1, "idTag": session_id}

    transaction = charger.start_transaction(1, session_id, 200_000, message_id="start-1")
    charger.resend_last()  # the same StartTransaction again: the same transaction id
    assert charger.answer("start-1")[2]["transactionId"] == transaction
    assert charger.start_transaction(1, session_id, 200_000) == transaction  # resent with a new id

    for wh in (200_300, 200_600, 200_900):
        charger.meter(1, transaction, wh)
        charger.resend_last()
        time.sleep(0.2)
    for _ in range(3):
        stopped = driver.post(f"/v1/driver/charging/sessions/{session_id}/stop", {})
        assert stopped.status_code == 200 and stopped.json()["state"] in ("stopping", "completed")
    charger.wait(lambda: transaction in charger.remote_stops, "remote stop")
    charger.stop_transaction(transaction, 201_000)
    charger.resend_last()
    charger.transactions[transaction] = 1
    charger.stop_transaction(transaction, 201_000)  # the stop again, with a new message id

    bill = driver.get(f"/v1/driver/charging/sessions/{session_id}/bill")
    assert bill.status_code == 200, bill.text
    body = bill.json()
    assert body["state"] == "completed" and body["energy_wh"] == 1000
    assert body["total_fen"] == body["electricity_fen"] + body["service_fen"] > 0
    assert sum(p["amount_fen"] for p in body["periods"]) == body["total_fen"]
    assert body["refund_fen"] == 5000 - body["total_fen"]
    assert driver.get("/v1/driver/wallet").json()["balance_fen"] == balance - body["total_fen"]
    time.sleep(0.5)
    assert charger.remote_stops.count(transaction) == 1  # one stop command for three stops
    history = driver.get("/v1/driver/charging/sessions").json()["sessions"]
    assert [s["session_id"] for s in history].count(session_id) == 1
    charger.status(1, "Available")


def test_a_malformed_frame_gets_a_callerror_and_the_next_frame_is_processed(charger: Charger) -> None:
    seen = len(charger.received)
    charger.send_raw(b'[2, "broken", "Heartbeat"')
    error = charger.wait(lambda: next((f for f in charger.received[seen:] if f[0] == 4), None), "CALLERROR")
    assert error[2] == "FormationViolation"
    unknown = charger.call("Teleport", {})
    assert unknown[0] == 4 and unknown[2] == "NotImplemented"
    answer = charger.call("Heartbeat", {})
    assert answer[0] == 3 and "currentTime" in answer[2]
    assert json.loads(json.dumps(answer))  # a well-formed CALLRESULT
