"""Merchant coupons end to end (domain.md §2.5): a merchant gives a 2-hour time coupon to a car in
the lot, the driver's quote shows it, two concurrent payments use it once and the exit opens for
the rest; a coupon for a car not in the lot and a release coupon beyond the day's budget are
refused with a clear error."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
import requests

from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, EXIT_LANE, Api, Driver, Stack, new_plate

pytestmark = pytest.mark.e2e


def _staff(stack: Stack) -> Api:
    return Api(
        stack.api, stack.token(f"e2e-ops-{uuid.uuid4().hex[:8]}", ["staff", "ops_admin"], DEMO_OPERATOR)
    )


def _merchant(stack: Stack, budget: dict[str, Any] | None = None) -> tuple[Api, str, Api]:
    """A new merchant at the demo lot, its super admin's API and the operator staff's."""
    ops = _staff(stack)
    made = ops.post("/v1/ops/merchants", {"lot_id": DEMO_LOT, "name": "e2e shop", "budget": budget})
    assert made.status_code == 201, made.text
    merchant_id = made.json()["merchant_id"]
    boss = f"e2e-boss-{uuid.uuid4().hex[:8]}"
    joined = ops.post(f"/v1/ops/merchants/{merchant_id}/members", {"user_id": boss, "role": "super_admin"})
    assert joined.status_code == 201, joined.text
    return Api(stack.api, stack.token(boss, ["merchant"])), merchant_id, ops


def _batch(ops: Api, merchant_id: str, **fields: Any) -> str:
    made = ops.post(f"/v1/ops/merchants/{merchant_id}/batches", fields)
    assert made.status_code == 201, made.text
    return str(made.json()["batch_id"])


def _enter(entry: GateDevice, plate: str) -> str:
    since = entry.mark()
    entry.capture(plate, "in")
    opened = entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    return str(opened["visit_id"])


def _entered_minutes_ago(stack: Stack, plate: str, visit_id: str, minutes: int) -> None:
    """The stay began `minutes` earlier (a test cannot wait hours): its entry time moved back."""
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name="us-east-1")
    at = (datetime.now(UTC) - timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f+0000")
    dynamodb.update_item(
        TableName="parkcharge-local-visits",
        Key={"lot_plate": {"S": f"{DEMO_LOT}#{plate}"}, "visit_id": {"S": visit_id}},
        UpdateExpression="SET entered_at = :at",
        ExpressionAttributeValues={":at": {"S": at}},
    )


def _pay(stack: Stack, driver: Driver, quote: dict[str, Any]) -> dict[str, Any]:
    created = driver.api.post(
        "/v1/driver/payments", {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"]}
    )
    assert created.status_code == 201, created.text
    return dict(created.json()["provider_order"])


def test_a_time_coupon_is_quoted_used_once_by_two_concurrent_payments_and_the_exit_opens_for_the_rest(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    shop, merchant_id, ops = _merchant(stack)
    two_hours = _batch(ops, merchant_id, kind="time", value=120, quantity=5)
    visit_id = _enter(entry, driver.plate)
    _entered_minutes_ago(stack, driver.plate, visit_id, 190)  # demo tariff: 250 fen per started half hour

    seen = shop.get("/v1/merchant/car", plate=driver.plate)
    assert seen.status_code == 200, seen.text
    assert seen.json()["fee_fen"] == 1750 and seen.json()["entered_at"]  # 3 h 10 min: 7 half hours
    given = shop.post("/v1/merchant/coupons", {"batch_id": two_hours, "plate": driver.plate})
    assert given.status_code == 201, given.text
    coupon_id = given.json()["coupon_id"]

    since = exit_gate.mark()
    exit_gate.capture(driver.plate, "out")
    shown = exit_gate.wait_for("command", lambda b: b.get("command") == "display", since=since)
    assert any("7.50" in line for line in shown["lines"]), shown  # the rest after the coupon

    orders = []
    for _ in range(2):  # two phones: each asks for a quote and pays it; the second supersedes the first
        answer = driver.api.post("/v1/driver/quotes", {"plate": driver.plate})
        assert answer.status_code == 201, answer.text
        quote = answer.json()
        [line] = [d for d in quote["discounts"] if d["kind"] == "coupon"]
        assert line["coupon_ids"] == [coupon_id] and line["amount_fen"] == 1000
        assert quote["total_fen"] == 1750 and quote["due_fen"] == 750
        orders.append(_pay(stack, driver, quote))
    barrier = threading.Barrier(len(orders))
    answers: list[int] = []

    def pay(order: dict[str, Any]) -> None:
        barrier.wait(timeout=10)
        paid = requests.post(
            f"{stack.pay}/v1/pay",
            json={"out_trade_no": order["out_trade_no"], "amount_fen": order["amount_fen"]},
            timeout=30,
        )
        answers.append(paid.status_code)

    threads = [threading.Thread(target=pay, args=(o,)) for o in orders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=40)
    assert answers == [200, 200]
    opened = exit_gate.wait_for(
        "command", lambda b: b.get("command") == "open_gate" and b.get("lane_id") == EXIT_LANE, since=since
    )
    assert opened["visit_id"] == visit_id
    mine = [c for c in shop.get("/v1/merchant/coupons").json()["coupons"] if c["coupon_id"] == coupon_id]
    assert [(c["status"], c["discount_fen"]) for c in mine] == [("used", 1000)]
    report = shop.get("/v1/merchant/report").json()
    assert report["totals"]["used"] == 1 and report["totals"]["discounted_fen"] == 1000


def test_a_car_not_in_the_lot_and_a_release_coupon_beyond_the_budget_are_refused(
    stack: Stack, entry: GateDevice
) -> None:
    shop, merchant_id, ops = _merchant(stack, budget={"period": "day", "fen": 300})
    release = _batch(ops, merchant_id, kind="release")
    away = shop.post("/v1/merchant/coupons", {"batch_id": release, "plate": new_plate()})
    assert away.status_code == 409 and away.json()["code"] == "car_not_in_lot", away.text
    first, second = new_plate(), new_plate()
    _enter(entry, first)
    _enter(entry, second)
    time.sleep(1.1)  # a stay of 0 s is free; from the first second it owes one half hour (250 fen)
    assert shop.post("/v1/merchant/coupons", {"batch_id": release, "plate": first}).status_code == 201
    refused = shop.post("/v1/merchant/coupons", {"batch_id": release, "plate": second})
    assert refused.status_code == 409 and refused.json()["code"] == "budget_exhausted", refused.text
    assert "50 fen left" in refused.json()["message"]
    assert shop.get("/v1/merchant/report").json()["budget_left_fen"] == 50
