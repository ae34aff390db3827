"""Parking visits end to end: real gate devices on MQTT, the driver's app and staff on HTTP, the
sandbox payment provider's signed notifications. Asserts only what devices and users see."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local.simulator import GateDevice
from tests.e2e.support import (
    DEMO_DRIVER,
    DEMO_LOT,
    DEMO_OPERATOR,
    DEMO_PLATE,
    ENTRY_LANE,
    EXIT_LANE,
    Api,
    Driver,
    Stack,
    new_plate,
)

pytestmark = pytest.mark.e2e

PARKED_SECONDS = 1.5


def _shows(plate: str) -> Any:
    return lambda body: body.get("command") == "display" and plate in body.get("lines", [])


def _opens(lane_id: str, visit_id: str | None = None) -> Any:
    def match(body: dict[str, Any]) -> bool:
        return (
            body.get("command") == "open_gate"
            and body.get("lane_id") == lane_id
            and (visit_id is None or body.get("visit_id") == visit_id)
        )

    return match


def _enter(entry: GateDevice, plate: str) -> str:
    """The car arrives at the entry: the barrier opens and the display welcomes it. The visit id."""
    since = entry.mark()
    entry.capture(plate, "in")
    opened = entry.wait_for("command", _opens(ENTRY_LANE), since=since)
    assert opened["device_id"] == entry.device_id
    assert opened["correlation_id"] and opened["expires_at"] > opened["issued_at"]
    entry.wait_for("command", _shows(plate), since=since)
    return str(opened["visit_id"])


def _park() -> None:
    """The car stays a moment: the demo tariff charges from the first second, a 0 s stay is free."""
    time.sleep(PARKED_SECONDS)


def _exit_with_fee(exit_gate: GateDevice, plate: str) -> tuple[int, dict[str, Any]]:
    """The car arrives at the exit with a fee due: only a display, no open_gate. Returns (mark, display)."""
    _park()
    since = exit_gate.mark()
    exit_gate.capture(plate, "out")
    display = exit_gate.wait_for("command", _shows(plate), since=since)
    # open_gate and display of one decision go out on the same topic in order: had the exit
    # opened, its open_gate would have arrived before this display.
    assert not [c for c in _commands_since(exit_gate, since) if c.get("command") == "open_gate"]
    return since, display


def _commands_since(device: GateDevice, since: int) -> list[dict[str, Any]]:
    return [r.body for r in device.received[since:] if r.kind == "command"]


def _quote(api: Api, plate: str) -> dict[str, Any]:
    response = api.post("/v1/driver/quotes", {"plate": plate})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _pay(
    stack: Stack, api: Api, quote: dict[str, Any], deliveries: int = 1
) -> tuple[dict[str, Any], dict[str, Any]]:
    created = api.post(
        "/v1/driver/payments",
        {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"], "method": "sandbox"},
    )
    assert created.status_code == 201, created.text
    payment = created.json()
    assert payment["status"] == "pending"
    assert payment["amount_fen"] == quote["due_fen"]
    order = payment["provider_order"]
    paid = requests.post(
        f"{stack.pay}/v1/pay",
        json={
            "out_trade_no": order["out_trade_no"],
            "amount_fen": order["amount_fen"],
            "deliveries": deliveries,
        },
        timeout=30,
    )
    assert paid.status_code == 200, paid.text
    return payment, paid.json()


def _visits(api: Api, plate: str) -> list[dict[str, Any]]:
    response = api.get("/v1/driver/visits", plate=plate)
    assert response.status_code == 200, response.text
    return list(response.json()["visits"])


def test_full_visit_entry_exit_pay_and_leave(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    visit_id = _enter(entry, driver.plate)

    since, display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)
    assert quote["visit_id"] == visit_id
    assert quote["lot_id"] == DEMO_LOT
    assert quote["due_fen"] > 0
    assert quote["due_fen"] == quote["total_fen"] - quote["paid_fen"] - quote["discount_fen"]
    amount = f"{quote['due_fen'] / 100:.2f}"
    assert any(amount in line for line in display["lines"]), display  # the display shows what is due

    payment, paid = _pay(stack, driver.api, quote)
    assert paid["notified"] == [200]
    assert paid["response"]["code"] == "SUCCESS"

    opened = exit_gate.wait_for("command", _opens(EXIT_LANE, visit_id), since=since)
    assert opened["device_id"] == exit_gate.device_id

    mine = driver.api.get(f"/v1/driver/payments/{payment['payment_id']}")
    assert mine.status_code == 200, mine.text
    assert mine.json()["status"] == "paid"
    assert mine.json()["amount_fen"] == quote["due_fen"]

    [visit] = _visits(driver.api, driver.plate)
    assert visit["visit_id"] == visit_id
    assert visit["lot_id"] == DEMO_LOT
    assert visit["entered_at"] and visit["entry_lane_id"] == ENTRY_LANE
    assert visit["exited_at"] and visit["exit_lane_id"] == EXIT_LANE
    assert visit["entered_at"] <= visit["exited_at"]
    assert visit["status"] == "exited"
    assert visit["total_fen"] == quote["total_fen"]
    assert visit["paid_fen"] == quote["due_fen"]
    assert visit["paid_at"]


def test_repeated_capture_makes_one_visit_and_one_open_gate(
    entry: GateDevice, driver: Driver, stack: Stack
) -> None:
    since = entry.mark()
    message = entry.capture(driver.plate, "in")
    entry.publish("capture", message)  # the same message again, as a QoS 1 redelivery would
    opened = entry.wait_for("command", _opens(ENTRY_LANE), since=since)

    # Another car behind it: once its barrier opened, the repeat has long been handled.
    other = new_plate()
    follow = entry.mark()
    entry.capture(other, "in")
    entry.wait_for("command", lambda b: _shows(other)(b), since=follow)
    entry.wait_for("command", _opens(ENTRY_LANE), since=follow)

    opens = [c for c in _commands_since(entry, since) if c.get("command") == "open_gate"]
    assert [c["visit_id"] for c in opens].count(opened["visit_id"]) == 1
    welcomes = [c for c in _commands_since(entry, since) if _shows(driver.plate)(c)]
    assert len(welcomes) == 1
    visits = _visits(driver.api, driver.plate)
    assert [v["visit_id"] for v in visits] == [opened["visit_id"]]


def test_malformed_captures_are_refused_with_a_reason_and_the_next_one_is_served(
    entry: GateDevice, driver: Driver
) -> None:
    since = entry.mark()
    entry.publish("capture", b"\x00this is not json{")
    not_json = entry.wait_for("error", since=since)
    assert not_json["code"] and not_json["reason"]

    since = entry.mark()
    missing_plate: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "device_id": entry.device_id,
        "lane_id": ENTRY_LANE,
        "direction": "in",
        "plate_color": 1,
        "vehicle_type": 1,
        "confidence": 90,
        "device_time": "2026-11-22T09:00:00+08:00",
    }
    entry.publish("capture", json.dumps(missing_plate))
    refused = entry.wait_error(ref_message_id=missing_plate["message_id"], since=since)
    assert "plate" in refused["reason"]
    assert refused["code"]

    visit_id = _enter(entry, driver.plate)
    assert [v["visit_id"] for v in _visits(driver.api, driver.plate)] == [visit_id]


def test_duplicate_payment_notification_counts_once(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    visit_id = _enter(entry, driver.plate)
    since, _display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)

    payment, paid = _pay(stack, driver.api, quote, deliveries=2)
    assert paid["notified"] == [200, 200]
    exit_gate.wait_for("command", _opens(EXIT_LANE, visit_id), since=since)

    assert driver.api.get(f"/v1/driver/payments/{payment['payment_id']}").json()["status"] == "paid"
    [visit] = _visits(driver.api, driver.plate)
    assert visit["paid_fen"] == quote["due_fen"]
    opens = [c for c in _commands_since(exit_gate, since) if _opens(EXIT_LANE, visit_id)(c)]
    assert len(opens) == 1

    staff = Api(stack.api, stack.token("demo-staff", ["staff"], operator_id=DEMO_OPERATOR))
    payments = staff.get(f"/v1/ops/lots/{DEMO_LOT}/payments")
    assert payments.status_code == 200, payments.text
    listed = [p for p in payments.json()["payments"] if p["payment_id"] == payment["payment_id"]]
    assert [(p["status"], p["amount_fen"]) for p in listed] == [("paid", quote["due_fen"])]


def test_staff_and_drivers_see_only_their_own(stack: Stack) -> None:
    own_staff = Api(stack.api, stack.token("demo-staff", ["staff"], operator_id=DEMO_OPERATOR))
    assert own_staff.get(f"/v1/ops/lots/{DEMO_LOT}").status_code == 200

    other_staff = Api(stack.api, stack.token("e2e-other-staff", ["staff"], operator_id="e2e-other-op"))
    hidden = other_staff.get(f"/v1/ops/lots/{DEMO_LOT}")
    assert hidden.status_code == 404
    assert hidden.json()["code"]

    demo_driver = Api(stack.api, stack.token(DEMO_DRIVER, ["driver"]))
    assert demo_driver.get("/v1/driver/visits", plate=DEMO_PLATE).status_code == 200

    someone_else = Api(stack.api, stack.token(f"e2e-driver-{uuid.uuid4().hex[:10]}", ["driver"]))
    refused = someone_else.get("/v1/driver/visits", plate=DEMO_PLATE)
    assert refused.status_code == 403
    assert refused.json()["code"] == "not_your_plate"

    anonymous = Api(stack.api).get("/v1/driver/visits", plate=DEMO_PLATE)
    assert anonymous.status_code == 401
