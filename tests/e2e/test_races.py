"""Races on the local stack, whose DynamoDB is atomic under concurrent requests (so these measure
parkcharge, not moto): the payment provider's notification delivered twice at the same moment as
the car's capture at the exit, and several quotes of one visit paid at once."""

from __future__ import annotations

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from chalicelib.payments import sandbox
from infra.local.sandbox_provider import CALLBACK_PATH
from infra.local.simulator import GateDevice
from tests.e2e.support import EXIT_LANE, Api, Driver, Stack, new_plate

pytestmark = pytest.mark.e2e

TRIALS = 100
PARALLEL = 10
TIME_BUDGET = 240.0
PARKED_SECONDS = 1.5


def _new_driver(stack: Stack) -> Driver:
    sub = f"e2e-race-{uuid.uuid4().hex[:10]}"
    api = Api(stack.api, stack.token(sub, ["driver"]))
    for _ in range(10):
        plate = new_plate()
        if api.post("/v1/driver/plates", {"plate": plate}).status_code == 201:
            return Driver(sub, plate, api)
    raise AssertionError("could not bind a fresh plate")


def _enter(entry: GateDevice, plate: str) -> None:
    since = entry.mark()
    entry.capture(plate, "in")
    entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    entry.wait_for(
        "command", lambda b: b.get("command") == "display" and plate in b.get("lines", []), since=since
    )


def _pending_payment(driver: Driver, quote: dict[str, Any] | None = None) -> dict[str, Any]:
    if quote is None:
        created = driver.api.post("/v1/driver/quotes", {"plate": driver.plate})
        assert created.status_code == 201, created.text
        quote = created.json()
    payment = driver.api.post(
        "/v1/driver/payments",
        {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"], "method": "sandbox"},
    )
    assert payment.status_code == 201, payment.text
    return {"quote": quote, **payment.json()}


def _notification(stack: Stack, payment: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """What the provider POSTs to the callback: a signed body (the sandbox provider's wire format)."""
    order = payment["provider_order"]
    body = json.dumps(
        {
            "out_trade_no": order["out_trade_no"],
            "transaction_id": "sbx-" + uuid.uuid4().hex,
            "amount_fen": order["amount_fen"],
            "trade_state": "SUCCESS",
            "success_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )
    headers = {"Content-Type": "application/json; charset=utf-8"}
    headers.update(sandbox.sign(stack.keys.pay_private.read_bytes(), body))
    return body, headers


def _notify(stack: Stack, body: str, headers: dict[str, str]) -> int:
    reply = requests.post(stack.api + CALLBACK_PATH, data=body.encode(), headers=headers, timeout=30)
    return reply.status_code


def _opens(visit_id: str) -> Any:
    return lambda b: (
        b.get("command") == "open_gate" and b.get("lane_id") == EXIT_LANE and b.get("visit_id") == visit_id
    )


def test_a_notification_delivered_twice_races_the_exit_capture(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice
) -> None:
    started = time.monotonic()
    drivers = [_new_driver(stack) for _ in range(TRIALS)]
    for driver in drivers:
        _enter(entry, driver.plate)
    time.sleep(PARKED_SECONDS)  # the demo tariff charges from the first second
    since = exit_gate.mark()

    def trial(driver: Driver) -> dict[str, Any]:
        payment = _pending_payment(driver)
        body, headers = _notification(stack, payment)
        with ThreadPoolExecutor(max_workers=3) as race:
            capture = race.submit(exit_gate.capture, driver.plate, "out")
            first = race.submit(_notify, stack, body, headers)
            second = race.submit(_notify, stack, body, headers)
            capture.result()
            statuses = [first.result(), second.result()]
        assert statuses == [200, 200], statuses
        exit_gate.wait_for("command", _opens(payment["quote"]["visit_id"]), since=since)
        return payment

    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        payments = list(pool.map(trial, drivers))
    assert time.monotonic() - started < TIME_BUDGET

    time.sleep(0.5)  # a second open_gate, had there been one, would have arrived by now
    opened = [c.get("visit_id") for c in exit_gate.commands[since:] if _opens(str(c.get("visit_id")))(c)]
    for driver, payment in zip(drivers, payments, strict=True):
        visit_id = payment["quote"]["visit_id"]
        assert opened.count(visit_id) == 1, (driver.plate, visit_id)
        mine = driver.api.get(f"/v1/driver/payments/{payment['payment_id']}").json()
        assert (mine["status"], mine["amount_fen"]) == ("paid", payment["quote"]["due_fen"])
        [visit] = driver.api.get("/v1/driver/visits", plate=driver.plate).json()["visits"]
        assert visit["status"] == "exited"
        assert visit["paid_fen"] == payment["quote"]["due_fen"]


def test_four_quotes_of_one_visit_paid_concurrently_apply_one_payment(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice
) -> None:
    driver = _new_driver(stack)
    _enter(entry, driver.plate)
    time.sleep(PARKED_SECONDS)
    payments = [_pending_payment(driver) for _ in range(4)]
    notifications = [_notification(stack, p) for p in payments]
    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(lambda n: _notify(stack, *n), notifications))
    assert all(s == 200 for s in statuses), statuses
    mine = [driver.api.get(f"/v1/driver/payments/{p['payment_id']}").json() for p in payments]
    statuses_now = [m["status"] for m in mine]
    paid = [s for s in statuses_now if s == "paid"]
    [visit] = driver.api.get("/v1/driver/visits", plate=driver.plate).json()["visits"]
    assert len(paid) == 1
    assert visit["paid_fen"] == payments[0]["quote"]["due_fen"]
