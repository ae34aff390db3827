"""Refunds through the local stack: moto runs infra/statemachines/refund.asl.json, its Lambda tasks
reach the app's handlers, people decide through the ops API with their own tokens, the sandbox
provider refunds parking payments (its control endpoint makes it fail), and the driver reads the
outcome. Each execution is named by the refund id."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from infra.local.charger_simulator import Charger
from infra.local.simulator import GateDevice
from tests.e2e.support import ARRIVAL_TIMEOUT, DEMO_OPERATOR, Api, Driver, Stack
from tests.e2e.test_parking import _enter, _park, _pay, _quote

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
DEADLINE = 45.0  # the provider's retries back off 2 + 4 + 8 s
CHARGER = "demo-charger-1"


def _sfn(stack: Stack) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=stack.aws_endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _until(what: str, probe: Callable[[], Any], deadline: float = DEADLINE) -> Any:
    end = time.monotonic() + deadline
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not within {deadline:.0f} s")
        time.sleep(0.25)


@pytest.fixture
def staff(stack: Stack) -> dict[str, Api]:
    def person(role: str) -> Api:
        sub = f"e2e-{role}-{uuid.uuid4().hex[:8]}"
        return Api(stack.api, stack.token(sub, ["staff", role], operator_id=DEMO_OPERATOR))

    return {"cs": person("customer_service"), "finance": person("finance")}


@pytest.fixture
def charger(stack: Stack) -> Iterator[Charger]:
    with Charger(
        CHARGER, stack.mqtt_host, stack.mqtt_port, timeout=ARRIVAL_TIMEOUT, certs_dir=stack.certs_dir
    ) as device:
        assert device.boot()[2]["status"] == "Accepted"
        yield device


def _provider_fails(stack: Stack, count: int) -> None:
    answer = requests.post(f"{stack.pay}/v1/control/refund-failures", json={"count": count}, timeout=10)
    assert answer.status_code == 200, answer.text


def _completed_session(driver: Api, charger: Charger) -> tuple[str, int]:
    """The demo driver charges 1 kWh with a 5000 prepay; (session id, bill total)."""
    charger.status(1, "Preparing")
    started = driver.post("/v1/driver/charging/sessions", {"qr_id": f"{CHARGER}-1", "prepay_fen": 5000})
    assert started.status_code == 201, started.text
    session_id = started.json()["session_id"]
    charger.wait(lambda: charger.remote_starts[-1] if charger.remote_starts else None, "remote start")
    transaction = charger.start_transaction(1, session_id, 300_000)
    charger.meter(1, transaction, 300_500)
    assert driver.post(f"/v1/driver/charging/sessions/{session_id}/stop", {}).status_code == 200
    charger.wait(lambda: transaction in charger.remote_stops, "remote stop")
    charger.stop_transaction(transaction, 301_000)
    bill = _until("the bill", lambda: _bill(driver, session_id))
    charger.status(1, "Available")
    return session_id, int(bill["total_fen"])


def _bill(driver: Api, session_id: str) -> dict[str, Any] | None:
    answer = driver.get(f"/v1/driver/charging/sessions/{session_id}/bill")
    return answer.json() if answer.status_code == 200 else None


def _refund(api: Api, refund_id: str) -> dict[str, Any]:
    answer = api.get(f"/v1/driver/refunds/{refund_id}")
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _reads(api: Api, refund_id: str, status: str) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        shown = _refund(api, refund_id)
        return shown if shown["status"] == status and shown["notifications"] else None

    return probe


def _waiting_for(api: Api, refund_id: str) -> Callable[[], bool]:
    def probe() -> bool:
        answer = api.get("/v1/ops/inbox")
        assert answer.status_code == 200, answer.text
        return refund_id in [item["approval_id"] for item in answer.json()["items"]]

    return probe


def _decide(api: Api, refund_id: str, level: int, decision: str, reason: str | None = None) -> None:
    body: dict[str, Any] = {"level": level, "decision": decision}
    if reason:
        body["reason"] = reason
    answer = api.post(f"/v1/ops/approvals/{refund_id}/decisions", body)
    assert answer.status_code == 200, answer.text


def _review(staff: dict[str, Api], refund_id: str) -> None:
    _until("customer service sees it", _waiting_for(staff["cs"], refund_id))
    _decide(staff["cs"], refund_id, 0, "approve", "the complaint checks out")
    _until("finance sees it", _waiting_for(staff["finance"], refund_id))
    _decide(staff["finance"], refund_id, 1, "approve", "within budget")


def _execution(stack: Stack, name: str) -> tuple[str, list[dict[str, Any]]]:
    """The execution named `name` of the refund machine, once it ended: (status, history)."""
    sfn = _sfn(stack)
    [machine] = [m for m in sfn.list_state_machines()["stateMachines"] if m["name"].endswith("refund")]
    arn = machine["stateMachineArn"].replace(":stateMachine:", ":execution:", 1) + f":{name}"

    def ended() -> str | None:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        return None if status == "RUNNING" else status

    status = _until(f"execution {name} ends", ended)
    return status, sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]


def _decisions(events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    outputs = [
        json.loads(e["taskSucceededEventDetails"]["output"])
        for e in events
        if e["type"] == "TaskSucceeded" and "waitForTaskToken" in e["taskSucceededEventDetails"]["resource"]
    ]
    return [(o["level"], o["decision"]) for o in outputs]


def _paid_parking(stack: Stack, entry: GateDevice, driver: Driver) -> dict[str, Any]:
    _enter(entry, driver.plate)
    _park()
    payment, _ = _pay(stack, driver.api, _quote(driver.api, driver.plate))
    _until(
        "the payment is booked",
        lambda: driver.api.get(f"/v1/driver/payments/{payment['payment_id']}").json()["status"] == "paid",
    )
    return payment


def test_a_charging_refund_reviewed_by_two_people_goes_back_to_the_wallet_and_the_journal(
    stack: Stack, charger: Charger, staff: dict[str, Api]
) -> None:
    driver = Api(stack.api, stack.token("demo-driver", ["driver"]))
    session_id, total = _completed_session(driver, charger)
    before = driver.get("/v1/driver/wallet").json()["balance_fen"]
    asked = driver.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds", {"amount_fen": total, "reason": "slow"}
    )
    assert asked.status_code == 202, asked.text
    refund_id = asked.json()["refund_id"]

    _review(staff, refund_id)
    shown = _until("the driver reads refunded", _reads(driver, refund_id, "refunded"))
    assert (shown["amount_fen"], shown["refunded_fen"]) == (total, total)
    assert [s["state"] for s in shown["steps"] if s["review"]] == ["approved", "approved"]
    assert driver.get("/v1/driver/wallet").json()["balance_fen"] == before + total
    books = staff["finance"].get(f"/v1/ops/charging/sessions/{session_id}/postings").json()
    refunds = [p for p in books["postings"] if p["kind"] == "refund"]
    assert [p["posting_id"] for p in refunds] == [f"refund:{refund_id}"]
    assert {"account": "wallet:demo-driver", "amount_fen": -total} in refunds[0]["lines"]
    status, events = _execution(stack, refund_id)
    assert status == "SUCCEEDED"
    assert _decisions(events) == [(0, "approve"), (1, "approve")]


def test_a_refund_rejected_at_the_first_level_ends_there(
    stack: Stack, charger: Charger, staff: dict[str, Api]
) -> None:
    driver = Api(stack.api, stack.token("demo-driver", ["driver"]))
    session_id, total = _completed_session(driver, charger)
    refund_id = driver.post(
        f"/v1/driver/charging/sessions/{session_id}/refunds", {"amount_fen": total}
    ).json()["refund_id"]
    _until("customer service sees it", _waiting_for(staff["cs"], refund_id))
    _decide(staff["cs"], refund_id, 0, "reject", "the charge completed normally")
    shown = _until("the driver reads rejected", _reads(driver, refund_id, "rejected"))
    assert "the charge completed normally" in shown["notifications"][0]["text"]
    assert not _waiting_for(staff["finance"], refund_id)()
    status, events = _execution(stack, refund_id)
    assert status == "SUCCEEDED" and _decisions(events) == [(0, "reject")]
    session = driver.get(f"/v1/driver/charging/sessions/{session_id}").json()
    assert session["refundable_fen"] == total  # released


def test_above_refundable_is_refused_and_two_requests_together_the_second_for_the_excess(
    stack: Stack, charger: Charger
) -> None:
    driver = Api(stack.api, stack.token("demo-driver", ["driver"]))
    session_id, total = _completed_session(driver, charger)
    path = f"/v1/driver/charging/sessions/{session_id}/refunds"
    too_much = driver.post(path, {"amount_fen": total + 1})
    assert too_much.status_code == 422 and too_much.json()["code"] == "amount_too_high"
    assert driver.post(path, {"amount_fen": total - 1}).status_code == 202
    second = driver.post(path, {"amount_fen": 2})
    assert second.status_code == 422 and "at most 1 fen" in second.json()["message"]


def test_a_parking_refund_the_provider_fails_twice_is_paid_on_its_retry(
    stack: Stack, entry: GateDevice, driver: Driver, staff: dict[str, Api]
) -> None:
    payment = _paid_parking(stack, entry, driver)
    asked = driver.api.post(
        f"/v1/driver/parking/payments/{payment['payment_id']}/refunds", {"amount_fen": payment["amount_fen"]}
    )
    assert asked.status_code == 202, asked.text
    refund_id = asked.json()["refund_id"]
    _provider_fails(stack, 2)
    _review(staff, refund_id)
    shown = _until("the driver reads refunded", _reads(driver.api, refund_id, "refunded"))
    assert shown["refunded_fen"] == payment["amount_fen"]
    status, events = _execution(stack, refund_id)
    assert status == "SUCCEEDED"
    failures = [e for e in events if e["type"] == "LambdaFunctionFailed" or e["type"] == "TaskFailed"]
    assert len(failures) == 2, [e["type"] for e in events]


def test_a_provider_that_keeps_failing_leaves_the_refund_failed_for_finance_who_retries_it(
    stack: Stack, entry: GateDevice, driver: Driver, staff: dict[str, Api]
) -> None:
    payment = _paid_parking(stack, entry, driver)
    refund_id = driver.api.post(
        f"/v1/driver/parking/payments/{payment['payment_id']}/refunds", {"amount_fen": payment["amount_fen"]}
    ).json()["refund_id"]
    _provider_fails(stack, 1000)
    try:
        _review(staff, refund_id)
        _until("the driver reads failed", _reads(driver.api, refund_id, "failed"))
        status, _ = _execution(stack, refund_id)
        assert status == "FAILED"
        listed = staff["finance"].get("/v1/ops/refunds", status="failed").json()["refunds"]
        assert refund_id in [r["refund_id"] for r in listed]
    finally:
        _provider_fails(stack, 0)
    retried = staff["finance"].post(f"/v1/ops/refunds/{refund_id}/retry", {})
    assert retried.status_code == 202, retried.text
    assert retried.json()["execution_name"] == f"{refund_id}.1"
    _until("the driver reads refunded", _reads(driver.api, refund_id, "refunded"))
    assert _execution(stack, f"{refund_id}.1")[0] == "SUCCEEDED"


def test_a_parking_overpayment_is_refunded_automatically_without_a_person(
    stack: Stack, entry: GateDevice, driver: Driver
) -> None:
    _enter(entry, driver.plate)
    _park()
    first = driver.api.post("/v1/driver/payments", {**_order(_quote(driver.api, driver.plate))})
    second = driver.api.post("/v1/driver/payments", {**_order(_quote(driver.api, driver.plate))})
    assert first.status_code == second.status_code == 201, (first.text, second.text)
    for order in (second.json(), first.json()):  # the provider takes both
        paid = requests.post(
            f"{stack.pay}/v1/pay",
            json={"out_trade_no": order["payment_id"], "amount_fen": order["amount_fen"]},
            timeout=30,
        )
        assert paid.status_code == 200, paid.text

    def refunded() -> list[dict[str, Any]]:
        mine = driver.api.get("/v1/driver/refunds").json()["refunds"]
        return [r for r in mine if r["status"] == "refunded"]

    [refund] = _until("the overpayment is refunded", refunded)
    assert refund["origin"] == "overpayment" and refund["subject_id"] == first.json()["payment_id"]
    assert refund["refunded_fen"] == first.json()["amount_fen"]
    shown = _refund(driver.api, refund["refund_id"])
    assert shown["levels"] == [] and not [s for s in shown["steps"] if s["review"]]
    status, events = _execution(stack, refund["refund_id"])
    assert status == "SUCCEEDED" and _decisions(events) == []


def _order(quote: dict[str, Any]) -> dict[str, Any]:
    return {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"], "method": "sandbox"}
