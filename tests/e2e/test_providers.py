"""WeChat Pay and Alipay end to end through the local stack: a driver creates a payment of a
parking fee with WeChat Pay / Alipay through the API (the stack places the order at the
provider's fake through the demo lot's merchant account and answers the mini-program's pay
bundle), pays at the fake, whose signed notification (WeChat: encrypted resource) reaches the
stack's notify route over HTTP three times; it is booked once (one journal posting, the visit
paid once) and the car waiting at the exit is let out once. Before that, notifications posted to
the stack tampered with, signed with another key, stale or for a wrong amount are refused and book
nothing. A parking refund of the WeChat payment runs through the
refund workflow, reaches the fake, and WeChat's refund notification books it once."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local import fake_alipay
from infra.local import keys as local_keys
from infra.local.fake_wechat import notification_body, signed_headers
from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, EXIT_LANE, Api, Driver, Stack
from tests.e2e.test_parking import _commands_since, _enter, _exit_with_fee, _opens, _quote, _visits
from tests.e2e.test_refunds import _reads, _review, _until, staff

__all__ = ["staff"]

pytestmark = pytest.mark.e2e

DELIVERIES = 3
# A notification that is not the provider's own, unchanged and fresh is unauthenticated; a
# genuine one for another amount than the order's is refused as such.
REFUSED = [
    ("tampered", 401, "bad_signature"),
    ("another key", 401, "bad_signature"),
    ("stale", 401, "bad_signature"),
    ("wrong amount", 409, "amount_mismatch"),
]


def _provider_keys(stack: Stack) -> Path:
    return stack.keys.directory / "providers"


def _pay_with(driver: Driver, quote: dict[str, Any], method: str, payer_id: str) -> dict[str, Any]:
    body = {
        "quote_id": quote["quote_id"],
        "amount_fen": quote["due_fen"],
        "method": method,
        "payer_id": payer_id,
    }
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    url = driver.api.base + "/v1/driver/payments"
    created = driver.api.session.post(url, json=body, headers=key, timeout=15)
    assert created.status_code == 201, created.text
    retried = driver.api.session.post(
        url, json=body, headers=key, timeout=15
    )  # a client's retry: the same payment
    assert retried.status_code == 201 and retried.json()["payment_id"] == created.json()["payment_id"]
    return dict(created.json())


def _refunds_processing(stack: Stack, on: bool) -> None:
    answer = requests.post(f"{stack.wechat}/fake/refunds", json={"processing": on}, timeout=10)
    assert answer.status_code == 200, answer.text


def _settle(stack: Stack, refund_id: str) -> dict[str, Any] | None:
    """The fake's refund of that number succeeds and is notified (None while it was not asked)."""
    answer = requests.post(
        f"{stack.wechat}/fake/refund/settle",
        json={"out_refund_no": refund_id, "deliveries": DELIVERIES},
        timeout=60,
    )
    return dict(answer.json()) if answer.status_code == 200 else None


def _postings(stack: Stack, visit_id: str) -> list[dict[str, Any]]:
    staff = Api(stack.api, stack.token("demo-staff", ["staff"], operator_id=DEMO_OPERATOR))
    postings = staff.get(f"/v1/ops/lots/{DEMO_LOT}/visits/{visit_id}/postings")
    assert postings.status_code == 200, postings.text
    return list(postings.json()["postings"])


def _booked_once(
    stack: Stack, driver: Driver, exit_gate: GateDevice, since: int, visit_id: str, payment_id: str, due: int
) -> dict[str, Any]:
    exit_gate.wait_for("command", _opens(EXIT_LANE, visit_id), since=since)
    mine = driver.api.get(f"/v1/driver/payments/{payment_id}").json()
    assert mine["status"] == "paid"
    [visit] = _visits(driver.api, driver.plate)
    assert visit["status"] == "exited" and visit["paid_fen"] == due
    assert len([c for c in _commands_since(exit_gate, since) if _opens(EXIT_LANE, visit_id)(c)]) == 1
    paid = [p for p in _postings(stack, visit_id) if p.get("posting_id") == f"pay:{payment_id}"]
    assert len(paid) == 1, paid
    return dict(mine)


def _wechat_post(stack: Stack, body: str, headers: dict[str, str]) -> requests.Response:
    return requests.post(
        stack.api + "/v1/pay/wechat/notify",
        data=body.encode(),
        headers={"Content-Type": "application/json", **headers},
        timeout=10,
    )


def _wechat_refusals(stack: Stack, payment_id: str, due: int) -> list[tuple[str, int, str | None]]:
    """Tampered, signed with the merchant's key instead of the platform's, stale, wrong amount."""
    keys = _provider_keys(stack) / "wechat"
    apiv3 = (keys / "apiv3.key").read_text().strip()
    platform, merchant = (keys / "platform.pem").read_bytes(), (keys / "merchant.pem").read_bytes()

    def body(amount: int) -> str:
        resource = {
            "appid": local_keys.WECHAT_APPID,
            "mchid": local_keys.WECHAT_MCHID,
            "out_trade_no": payment_id,
            "transaction_id": "4200000000refused",
            "trade_state": "SUCCESS",
            "amount": {"total": amount, "currency": "CNY"},
        }
        return notification_body(apiv3, "TRANSACTION.SUCCESS", resource, "支付成功")

    genuine, other = body(due), body(due - 1)
    key_id = local_keys.WECHAT_PUBLIC_KEY_ID
    attempts = {
        "tampered": (other, signed_headers(platform, key_id, genuine)),
        "another key": (genuine, signed_headers(merchant, key_id, genuine)),
        "stale": (genuine, signed_headers(platform, key_id, genuine, timestamp=int(time.time()) - 600)),
        "wrong amount": (other, signed_headers(platform, key_id, other)),
    }
    answers = []
    for name, (text, headers) in attempts.items():
        answer = _wechat_post(stack, text, headers)
        answers.append((name, answer.status_code, answer.json().get("code")))
    return answers


def _alipay_refusals(
    stack: Stack, payment_id: str, trade_no: str, due: int
) -> list[tuple[str, int, str | None]]:
    keys = _provider_keys(stack) / "alipay"
    alipay, app = (keys / "alipay.pem").read_bytes(), (keys / "app.pem").read_bytes()
    now = datetime.now(UTC)

    def fields(fen: int, at: datetime) -> dict[str, str]:
        return {
            "notify_time": fake_alipay.china_time(at),
            "notify_type": "trade_status_sync",
            "notify_id": uuid.uuid4().hex,
            "app_id": local_keys.ALIPAY_APP_ID,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade_no,
            "out_trade_no": payment_id,
            "seller_id": local_keys.ALIPAY_SELLER_ID,
            "trade_status": "TRADE_SUCCESS",
            "total_amount": f"{fen // 100}.{fen % 100:02d}",
        }

    genuine = fake_alipay.notification_form(alipay, fields(due, now))
    attempts = {
        "tampered": genuine.replace("TRADE_SUCCESS", "TRADE_FINISHED"),
        "another key": fake_alipay.notification_form(app, fields(due, now)),
        "stale": fake_alipay.notification_form(alipay, fields(due, now - timedelta(days=2))),
        "wrong amount": fake_alipay.notification_form(alipay, fields(due - 1, now)),
    }
    answers = []
    for name, text in attempts.items():
        answer = requests.post(
            stack.api + "/v1/pay/alipay/notify",
            data=text,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=10,
        )
        answers.append(
            (name, answer.status_code, answer.json().get("code") if answer.text.startswith("{") else None)
        )
    return answers


def test_a_parking_fee_paid_with_wechat_pay_is_booked_once_and_refunded_through_the_workflow(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver, staff: dict[str, Api]
) -> None:
    visit_id = _enter(entry, driver.plate)
    since, _display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)
    created = _pay_with(driver, quote, "wechat", "o-e2e-openid")
    payment_id = created["payment_id"]
    bundle = created["provider_order"]["pay_params"]
    assert bundle["package"] == f"prepay_id={created['provider_order']['prepay_id']}" and bundle["paySign"]

    # Tampered, signed with another key, stale, wrong amount: each refused, nothing booked.
    refused = _wechat_refusals(stack, payment_id, quote["due_fen"])
    assert refused == REFUSED, refused
    assert driver.api.get(f"/v1/driver/payments/{payment_id}").json()["status"] == "pending"
    [still] = _visits(driver.api, driver.plate)
    assert still["status"] == "inside" and still["paid_fen"] == 0  # nothing booked

    paid = requests.post(
        f"{stack.wechat}/fake/pay", json={"out_trade_no": payment_id, "deliveries": DELIVERIES}, timeout=60
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] == [200] * DELIVERIES
    mine = _booked_once(stack, driver, exit_gate, since, visit_id, payment_id, quote["due_fen"])
    assert mine["provider"] == "wechat" and mine["provider_txn_id"] == paid.json()["transaction_id"]

    # A refund through the workflow: asked at the fake, which answers PROCESSING (as WeChat Pay
    # mostly does) until its REFUND.SUCCESS notification, delivered three times, books it once.
    _refunds_processing(stack, True)
    try:
        asked = driver.api.post(f"/v1/driver/parking/payments/{payment_id}/refunds", {"amount_fen": 100})
        assert asked.status_code == 202, asked.text
        refund_id = asked.json()["refund_id"]
        _review(staff, refund_id)
        settled = _until("the refund reaches the fake", lambda: _settle(stack, refund_id))
    finally:
        _refunds_processing(stack, False)
    assert settled["notified"] == [200] * DELIVERIES
    shown = _until("the driver reads refunded", _reads(driver.api, refund_id, "refunded"))
    assert shown["refunded_fen"] == 100
    refunds = [p for p in _postings(stack, visit_id) if p.get("posting_id") == f"refund:{refund_id}"]
    assert len(refunds) == 1, refunds


def test_a_parking_fee_paid_with_alipay_is_booked_once_from_three_notifications(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    visit_id = _enter(entry, driver.plate)
    since, _display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)
    created = _pay_with(driver, quote, "alipay", "2088002000000001")
    payment_id = created["payment_id"]
    order = created["provider_order"]

    refused = _alipay_refusals(stack, payment_id, order["trade_no"], quote["due_fen"])
    assert refused == REFUSED, refused
    assert driver.api.get(f"/v1/driver/payments/{payment_id}").json()["status"] == "pending"
    [still] = _visits(driver.api, driver.plate)
    assert still["status"] == "inside" and still["paid_fen"] == 0  # nothing booked

    paid = requests.post(
        stack.alipay.removesuffix("/gateway.do") + "/fake/pay",
        json={"out_trade_no": payment_id, "deliveries": DELIVERIES},
        timeout=60,
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] == [200] * DELIVERIES
    mine = _booked_once(stack, driver, exit_gate, since, visit_id, payment_id, quote["due_fen"])
    assert mine["provider"] == "alipay" and mine["provider_txn_id"] == order["trade_no"]
