"""The WeChat Pay and Alipay notify routes, over HTTP (Chalice's test client), with the fakes on
loopback: a driver's parking fee paid at the fake is notified three times and booked once (one
journal posting), and the car waiting at the exit is let out; a tampered, re-signed, stale or
wrong-amount notification is refused and books nothing.

The driver's payment is created through the API with the method and the payer's identity, which
places the order at the fake through the site's merchant account."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from chalice.test import Client

from chalicelib.ledger.models import JournalPosting
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, Visit
from chalicelib.payments import merchants
from chalicelib.payments.models import PAID, PENDING, Payment
from infra.local.fake_alipay import FakeAlipay, rsa2_sign, signed_text
from infra.local.fake_wechat import FakeWeChat, signed_headers
from tests.integration.payments.test_providers import other_private_key
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
WECHAT_NOTIFY = "/v1/pay/wechat/notify"
ALIPAY_NOTIFY = "/v1/pay/alipay/notify"
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def now() -> datetime:
    return datetime.now(UTC)


def waiting_at_the_exit_with_a_payment(client: Client, provider: str) -> Payment:
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), now() - timedelta(minutes=95)
    )
    assert handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), now())["result"] == (
        "payment_required"
    )
    quote = client.http.post("/v1/driver/quotes", body=json.dumps({"plate": PLATE}), headers=auth()).json_body
    payer = "o-openid" if provider == merchants.WECHAT else "2088002000000001"
    created = client.http.post(
        "/v1/driver/payments",
        body=json.dumps(
            {
                "quote_id": quote["quote_id"],
                "amount_fen": quote["due_fen"],
                "method": provider,
                "payer_id": payer,
            }
        ),
        headers=auth(),
    )
    assert created.status_code == 201, created.body
    payment = Payment.get(created.json_body["payment_id"])
    assert (payment.provider, payment.method) == (provider, provider)
    return payment


def postings(payment_id: str) -> list[JournalPosting]:
    return [p for p in JournalPosting.scan() if payment_id in str(p.posting_id)]


def nothing_booked(payment: Payment, published: Recorder) -> None:
    payment.refresh(consistent_read=True)
    assert payment.status == PENDING and postings(str(payment.payment_id)) == []
    assert published.commands(EXIT, "open_gate") == []


def booked_once(client: Client, payment: Payment, published: Recorder, provider_txn: str) -> None:
    payment.refresh(consistent_read=True)
    assert payment.status == PAID and payment.provider_txn_id == provider_txn
    [posting] = postings(str(payment.payment_id))
    assert f"provider_clearing:{payment.provider}" in [line[0] for line in posting.lines]
    visit = next(iter(Visit.query(f"demo-lot#{PLATE}", scan_index_forward=False, limit=1)))
    assert visit.status == EXITED and visit.paid_fen == int(payment.amount_fen)
    assert len(published.commands(EXIT, "open_gate")) == 1
    mine = client.http.get(f"/v1/driver/payments/{payment.payment_id}", headers=auth()).json_body
    assert mine["status"] == "paid" and mine["provider"] == payment.provider


def wechat_post(client: Client, headers: dict[str, str], body: str) -> Any:
    return client.http.post(WECHAT_NOTIFY, body=body, headers={"Content-Type": "application/json", **headers})


def test_a_wechat_payment_notified_three_times_is_booked_once_and_opens_the_exit(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    payment = waiting_at_the_exit_with_a_payment(client, merchants.WECHAT)
    no = str(payment.payment_id)
    resource = wx.mark_paid(no)
    headers, body = wx.notification("TRANSACTION.SUCCESS", resource)

    tampered = body.replace('"summary":"TRANSACTION.SUCCESS"', '"summary":"paid"')
    resigned = signed_headers(other_private_key(), wx.merchant.public_key_id, body)
    stale = signed_headers(
        wx.merchant.platform_private_key, wx.merchant.public_key_id, body, int(now().timestamp()) - 600
    )
    unknown = {**headers, "Wechatpay-Serial": "PUB_KEY_ID_NOT_OURS"}
    before = wx.requests_seen()
    for bad_headers, bad_body in ((headers, tampered), (resigned, body), (stale, body), (unknown, body)):
        refused = wechat_post(client, bad_headers, bad_body)
        assert refused.status_code == 401 and refused.json_body["code"] == "bad_signature"
    assert wx.requests_seen() == before  # no refusal made a call out
    wrong_headers, wrong_body = wx.notification(
        "TRANSACTION.SUCCESS", {**resource, "amount": {**resource["amount"], "total": 1}}
    )
    wrong = wechat_post(client, wrong_headers, wrong_body)
    assert wrong.status_code == 409 and wrong.json_body["code"] == "amount_mismatch"
    nothing_booked(payment, published)

    answers = [wechat_post(client, headers, body) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json_body["outcome"] for a in answers] == ["applied", "already_applied", "already_applied"]
    booked_once(client, payment, published, resource["transaction_id"])


def alipay_resign(ali: FakeAlipay, fields: dict[str, str], key: bytes | None = None) -> str:
    form = {**fields, "sign_type": "RSA2"}
    form["sign"] = rsa2_sign(key or ali.app.alipay_private_key, signed_text(form, ("sign", "sign_type")))
    return urlencode(form)


def test_an_alipay_payment_notified_three_times_is_booked_once_and_opens_the_exit(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    _wx, ali = fakes
    payment = waiting_at_the_exit_with_a_payment(client, merchants.ALIPAY)
    fields = ali.mark_paid(str(payment.payment_id))
    genuine = ali.notification(fields)
    amount = fields["total_amount"]

    old = (now() - timedelta(hours=30)).astimezone(ali_zone()).strftime("%Y-%m-%d %H:%M:%S")
    for bad in (
        genuine.replace(f"total_amount={amount}", "total_amount=0.01"),
        alipay_resign(ali, {**fields, "total_amount": "0.01"}, other_private_key()),
        alipay_resign(ali, {**fields, "notify_time": old}),
    ):
        refused = client.http.post(ALIPAY_NOTIFY, body=bad, headers=FORM)
        assert refused.status_code == 401 and refused.json_body["code"] == "bad_signature"
    wrong = client.http.post(
        ALIPAY_NOTIFY, body=alipay_resign(ali, {**fields, "total_amount": "0.01"}), headers=FORM
    )
    assert wrong.status_code == 409 and wrong.json_body["code"] == "amount_mismatch"
    seller = client.http.post(
        ALIPAY_NOTIFY, body=alipay_resign(ali, {**fields, "seller_id": "2088999"}), headers=FORM
    )
    assert seller.status_code == 409 and seller.json_body["code"] == "merchant_mismatch"
    nothing_booked(payment, published)

    answers = [client.http.post(ALIPAY_NOTIFY, body=genuine, headers=FORM) for _ in range(3)]
    assert [(a.status_code, a.body) for a in answers] == [(200, b"success")] * 3
    booked_once(client, payment, published, fields["trade_no"])


def ali_zone() -> Any:
    from infra.local.fake_alipay import CHINA

    return CHINA
