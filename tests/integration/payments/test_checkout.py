"""Drivers pay a quote with WeChat Pay or Alipay through `POST /v1/driver/payments` (the order is
placed at the provider's fake through the lot's merchant account), retry the call safely with an
`Idempotency-Key`, and ask a payment's status, which asks the provider about a pending order; the
sweeper books or closes pending orders past their quote's expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib.ledger.models import JournalPosting
from chalicelib.parking import devices as handlers
from chalicelib.payments import checkout, merchants, sweeper
from chalicelib.payments.models import CLOSED, PAID, PENDING, Payment
from chalicelib.shared import cache
from infra.local.fake_alipay import FakeAlipay
from infra.local.fake_wechat import FakeWeChat
from tests.integration.payments.test_payments import notify
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
OPENID, BUYER = "o-driver-openid", "2088002000000001"


def now() -> datetime:
    return datetime.now(UTC)


def quote_at_the_exit(client: Client) -> dict[str, Any]:
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), now() - timedelta(minutes=95)
    )
    handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), now())
    quote = client.http.post("/v1/driver/quotes", body=json.dumps({"plate": PLATE}), headers=auth())
    assert quote.status_code == 201, quote.body
    return dict(quote.json_body)


def pay(client: Client, quote: dict[str, Any], key: str | None = None, **fields: Any) -> Any:
    body = {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"], **fields}
    headers = {**auth(), **({"Idempotency-Key": key} if key else {})}
    return client.http.post("/v1/driver/payments", body=json.dumps(body), headers=headers)


def postings(payment_id: str) -> list[JournalPosting]:
    return [p for p in JournalPosting.scan() if payment_id in str(p.posting_id)]


def test_a_wechat_payment_answers_the_mini_programs_pay_bundle(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    quote = quote_at_the_exit(client)
    created = pay(client, quote, method="wechat", payer_id=OPENID)
    assert created.status_code == 201, created.body
    answer = created.json_body
    assert (answer["provider"], answer["method"], answer["status"]) == ("wechat", "wechat", "pending")
    order = wx.orders[answer["payment_id"]]  # placed at the provider, for the quote's amount and payer
    assert (order.total, order.openid) == (quote["due_fen"], OPENID)
    assert order.notify_url == "http://127.0.0.1:9/v1/pay/wechat/notify"
    bundle = answer["provider_order"]["pay_params"]
    assert bundle["package"] == f"prepay_id={order.prepay_id}" and bundle["signType"] == "RSA"
    assert set(bundle) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    # a notification another provider signed does not book it
    sandbox = notify(client, answer["payment_id"], quote["due_fen"])
    assert sandbox.status_code == 409 and sandbox.json_body["code"] == "provider_mismatch"
    assert Payment.get(answer["payment_id"]).status == PENDING


def test_a_provider_payment_needs_the_payer_and_the_sites_merchant_account(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    quote = quote_at_the_exit(client)
    missing = pay(client, quote, method="wechat")
    assert missing.status_code == 422 and missing.json_body["code"] == "payer_required"
    unknown = pay(client, quote, method="bitcoin", payer_id=OPENID)
    assert unknown.status_code == 400 and unknown.json_body["code"] == "unsupported_method"
    merchants.MerchantAccount.get(merchants.site_key(merchants.LOT, "demo-lot"), merchants.WECHAT).delete()
    cache.reset_all()
    refused = pay(client, quote, method="wechat", payer_id=OPENID)
    assert refused.status_code == 409 and refused.json_body["code"] == "no_merchant_account"
    assert wx.orders == {} and list(Payment.scan()) == []


def test_a_retry_with_the_same_key_is_the_same_payment_and_another_body_is_refused(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    quote = quote_at_the_exit(client)
    first = pay(client, quote, "key-0001-abcdef", method="wechat", payer_id=OPENID)
    again = pay(client, quote, "key-0001-abcdef", method="wechat", payer_id=OPENID)
    assert first.status_code == again.status_code == 201
    assert first.json_body["payment_id"] == again.json_body["payment_id"]
    assert again.json_body["provider_order"]["prepay_id"] == first.json_body["provider_order"]["prepay_id"]
    assert len(wx.orders) == 1 and len(list(Payment.scan())) == 1

    other = pay(client, quote, "key-0001-abcdef", method="alipay", payer_id=BUYER)
    assert other.status_code == 422 and other.json_body["code"] == "idempotency_key_reused"
    malformed = pay(client, quote, "short", method="wechat", payer_id=OPENID)
    assert malformed.status_code == 400 and malformed.json_body["code"] == "invalid_idempotency_key"
    # without a key, another method for the same quote is refused too (one payment per quote)
    switched = pay(client, quote, method="alipay", payer_id=BUYER)
    assert switched.status_code == 409 and switched.json_body["code"] == "payment_method_differs"


def test_asking_a_pending_payments_status_asks_the_provider_and_books_it_once(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    quote = quote_at_the_exit(client)
    payment_id = pay(client, quote, "key-0002-abcdef", method="wechat", payer_id=OPENID).json_body[
        "payment_id"
    ]
    pending = client.http.get(f"/v1/driver/payments/{payment_id}", headers=auth()).json_body
    assert pending["status"] == "pending"

    wx.mark_paid(payment_id)  # paid at the provider; its notification never arrives
    for _ in range(2):
        mine = client.http.get(f"/v1/driver/payments/{payment_id}", headers=auth())
        assert mine.status_code == 200 and mine.json_body["status"] == "paid"
    assert mine.json_body["provider_txn_id"] == wx.orders[payment_id].transaction_id
    assert len(postings(payment_id)) == 1 and len(published.commands(EXIT, "open_gate")) == 1
    # a retried creation of a paid payment says so, with no order to pay
    replay = pay(client, quote, "key-0002-abcdef", method="wechat", payer_id=OPENID)
    assert replay.status_code == 201 and replay.json_body["provider_order"]["status"] == "paid"


def test_an_alipay_order_is_swept_past_its_expiry_booked_when_paid_and_an_unpaid_one_closed(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, ali = fakes
    quote = quote_at_the_exit(client)
    created = pay(client, quote, method="alipay", payer_id=BUYER)
    assert created.status_code == 201, created.body
    paid_id = created.json_body["payment_id"]
    trade = ali.trades[paid_id]  # placed at Alipay: the mini-program pays it by its trade number
    assert created.json_body["provider_order"]["trade_no"] == trade.trade_no
    assert (trade.total, trade.buyer_id) == (quote["due_fen"], BUYER)
    ali.mark_paid(paid_id)
    # a second plate's unpaid WeChat order
    unpaid = Payment.get(paid_id)
    unpaid_id = "p-unpaid-0001"
    Payment(
        unpaid_id,
        **{k: v for k, v in unpaid.attribute_values.items() if k not in ("payment_id", "provider", "method")},
        provider="wechat",
        method="wechat",
    ).save()
    wx_payment = Payment.get(unpaid_id)
    client_order = wx_payment.expires_at
    assert client_order is not None
    checkout.order_for(wx_payment, OPENID, now())
    assert not any(sweeper.sweep(now()).values())  # nothing is due before expiry

    later = client_order + sweeper.GRACE + timedelta(seconds=1)
    counts = sweeper.sweep(later)
    assert (counts["booked"], counts["closed"]) == (1, 1), counts
    assert Payment.get(paid_id).status == PAID and len(postings(paid_id)) == 1
    assert Payment.get(unpaid_id).status == CLOSED and wx.orders[unpaid_id].trade_state == "CLOSED"
    assert postings(unpaid_id) == []
    # settled orders leave the sweeper's index: a second run finds nothing
    assert not any(sweeper.sweep(later).values())
    assert PENDING not in {p.status for p in Payment.scan()}
