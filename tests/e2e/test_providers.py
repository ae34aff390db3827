"""WeChat Pay and Alipay end to end through the local stack: a driver's parking fee paid at the
provider's fake, whose signed notification (WeChat: encrypted resource) reaches the stack's
notify route over HTTP three times; it is booked once (one journal posting, the visit paid once)
and the car waiting at the exit is let out once. A forged notification posted to the stack is
refused and books nothing.

Drivers cannot choose WeChat Pay or Alipay when creating a payment yet (a later change calls
`channels.provider_order` there). Until then the test does what that change will: it makes the
driver's pending payment a WeChat / Alipay one in the stack's table and places its order at the
fake through the demo lot's merchant account (the keys the stack generated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from chalicelib.payments.alipay import AlipayAccount, AlipayAdapter
from chalicelib.payments.wechat import WeChatAccount, WeChatPayAdapter
from infra.local import keys as local_keys
from infra.local.fake_wechat import notification_body, signed_headers
from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, EXIT_LANE, Api, Driver, Stack
from tests.e2e.test_parking import _commands_since, _enter, _exit_with_fee, _opens, _quote, _visits

pytestmark = pytest.mark.e2e

DELIVERIES = 3


def _provider_keys(stack: Stack) -> Path:
    return stack.keys.directory / "providers"


def _pending_payment_with(stack: Stack, driver: Driver, quote: dict[str, Any], provider: str) -> str:
    created = driver.api.post(
        "/v1/driver/payments", {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"]}
    )
    assert created.status_code == 201, created.text
    payment_id = str(created.json()["payment_id"])
    dynamodb = boto3.client("dynamodb", endpoint_url=stack.aws_endpoint_url, region_name="us-east-1")
    dynamodb.update_item(
        TableName="parkcharge-local-payments",
        Key={"payment_id": {"S": payment_id}},
        UpdateExpression="SET #p = :p, #m = :p",
        ConditionExpression="#s = :pending",
        ExpressionAttributeNames={"#p": "provider", "#m": "method", "#s": "status"},
        ExpressionAttributeValues={":p": {"S": provider}, ":pending": {"S": "pending"}},
    )
    return payment_id


def _wechat(stack: Stack) -> WeChatPayAdapter:
    keys = _provider_keys(stack) / "wechat"
    account = WeChatAccount(
        mchid=local_keys.WECHAT_MCHID,
        appid=local_keys.WECHAT_APPID,
        merchant_serial_no=local_keys.WECHAT_MERCHANT_SERIAL,
        public_key_id=local_keys.WECHAT_PUBLIC_KEY_ID,
        private_key=(keys / "merchant.pem").read_text(),
        public_key=(keys / "platform.pub.pem").read_text(),
        apiv3_key=(keys / "apiv3.key").read_text().strip(),
    )
    return WeChatPayAdapter(account, gateway_url=stack.wechat, notify_url=stack.api + "/v1/pay/wechat/notify")


def _alipay(stack: Stack) -> AlipayAdapter:
    keys = _provider_keys(stack) / "alipay"
    account = AlipayAccount(
        app_id=local_keys.ALIPAY_APP_ID,
        seller_id=local_keys.ALIPAY_SELLER_ID,
        private_key=(keys / "app.pem").read_text(),
        alipay_public_key=(keys / "alipay.pub.pem").read_text(),
    )
    return AlipayAdapter(account, gateway_url=stack.alipay, notify_url=stack.api + "/v1/pay/alipay/notify")


def _booked_once(
    stack: Stack, driver: Driver, exit_gate: GateDevice, since: int, visit_id: str, payment_id: str, due: int
) -> dict[str, Any]:
    exit_gate.wait_for("command", _opens(EXIT_LANE, visit_id), since=since)
    mine = driver.api.get(f"/v1/driver/payments/{payment_id}").json()
    assert mine["status"] == "paid"
    [visit] = _visits(driver.api, driver.plate)
    assert visit["status"] == "exited" and visit["paid_fen"] == due
    assert len([c for c in _commands_since(exit_gate, since) if _opens(EXIT_LANE, visit_id)(c)]) == 1
    staff = Api(stack.api, stack.token("demo-staff", ["staff"], operator_id=DEMO_OPERATOR))
    postings = staff.get(f"/v1/ops/lots/{DEMO_LOT}/visits/{visit_id}/postings")
    assert postings.status_code == 200, postings.text
    paid = [p for p in postings.json()["postings"] if payment_id in str(p.get("posting_id"))]
    assert len(paid) == 1, postings.json()
    return dict(mine)


def test_a_parking_fee_paid_with_wechat_pay_is_booked_once_from_three_notifications(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    visit_id = _enter(entry, driver.plate)
    since, _display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)
    payment_id = _pending_payment_with(stack, driver, quote, "wechat")
    wxpay = _wechat(stack)
    now = datetime.now(UTC)
    order = wxpay.mini_program_order(
        payment_id, quote["due_fen"], "停车费", "o-e2e-openid", now + timedelta(minutes=10), now
    )
    assert order["pay_params"]["package"] == f"prepay_id={order['prepay_id']}"

    # A forged notification (signed with the merchant's key, not the platform's) books nothing.
    resource = {
        "appid": local_keys.WECHAT_APPID,
        "mchid": local_keys.WECHAT_MCHID,
        "out_trade_no": payment_id,
        "transaction_id": "4200000000forged",
        "trade_state": "SUCCESS",
        "amount": {"total": quote["due_fen"], "currency": "CNY"},
    }
    apiv3 = (_provider_keys(stack) / "wechat" / "apiv3.key").read_text().strip()
    body = notification_body(apiv3, "TRANSACTION.SUCCESS", resource, "支付成功")
    merchant_key = (_provider_keys(stack) / "wechat" / "merchant.pem").read_bytes()
    forged = requests.post(
        stack.api + "/v1/pay/wechat/notify",
        data=body.encode(),
        headers={
            "Content-Type": "application/json",
            **signed_headers(merchant_key, local_keys.WECHAT_PUBLIC_KEY_ID, body),
        },
        timeout=10,
    )
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"
    assert driver.api.get(f"/v1/driver/payments/{payment_id}").json()["status"] == "pending"

    paid = requests.post(
        f"{stack.wechat}/fake/pay", json={"out_trade_no": payment_id, "deliveries": DELIVERIES}, timeout=60
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] == [200] * DELIVERIES
    mine = _booked_once(stack, driver, exit_gate, since, visit_id, payment_id, quote["due_fen"])
    assert mine["provider"] == "wechat" and mine["provider_txn_id"] == paid.json()["transaction_id"]


def test_a_parking_fee_paid_with_alipay_is_booked_once_from_three_notifications(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    visit_id = _enter(entry, driver.plate)
    since, _display = _exit_with_fee(exit_gate, driver.plate)
    quote = _quote(driver.api, driver.plate)
    payment_id = _pending_payment_with(stack, driver, quote, "alipay")
    ali = _alipay(stack)
    order = ali.mini_program_order(
        payment_id, quote["due_fen"], "停车费", "2088002000000001", datetime.now(UTC) + timedelta(minutes=10)
    )

    forged = requests.post(
        stack.api + "/v1/pay/alipay/notify",
        data=f"app_id={local_keys.ALIPAY_APP_ID}&out_trade_no={payment_id}&total_amount=0.01&sign_type=RSA2&sign=AAAA",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert forged.status_code == 401 and forged.json()["code"] == "bad_signature"

    paid = requests.post(
        stack.alipay.removesuffix("/gateway.do") + "/fake/pay",
        json={"out_trade_no": payment_id, "deliveries": DELIVERIES},
        timeout=60,
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] == [200] * DELIVERIES
    mine = _booked_once(stack, driver, exit_gate, since, visit_id, payment_id, quote["due_fen"])
    assert mine["provider"] == "alipay" and mine["provider_txn_id"] == order["trade_no"]
