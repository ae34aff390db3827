"""The wallet beyond charging, over HTTP with the fakes on loopback: a top-up through WeChat Pay
is booked to the wallet once (its notification delivered three times), a parking fee is paid
from the balance at once (the car waiting at the exit let out), and a balance that does not hold
the fee is refused. Every movement is one journal posting; the books hold."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalice.test import Client

from chalicelib.ledger.models import JournalPosting
from chalicelib.payments import orders
from chalicelib.payments.models import CLOSED, PAID, Payment
from chalicelib.payments.sandbox import Notification
from chalicelib.shared.timeutil import iso
from infra.local.fake_alipay import FakeAlipay
from infra.local.fake_wechat import FakeWeChat
from tests.integration.ledger.books import assert_books_hold
from tests.integration.payments.test_checkout import EXIT, OPENID, pay, quote_at_the_exit
from tests.integration.payments.test_provider_callbacks import wechat_post
from tests.support.iot import Recorder
from tests.support.tokens import auth

OPENING = 20_000  # the demo driver's wallet (infra/local/demo.py)


def balance(client: Client, sub: str = "demo-driver") -> int:
    return int(client.http.get("/v1/driver/wallet", headers=auth(sub)).json_body["balance_fen"])


def posting(posting_id: str) -> JournalPosting | None:
    return next((p for p in JournalPosting.scan() if str(p.posting_id) == posting_id), None)


def top_up(client: Client, amount: int, key: str | None = None, **fields: Any) -> Any:
    body = {"amount_fen": amount, "method": "wechat", "payer_id": OPENID, "lot_id": "demo-lot", **fields}
    headers = {**auth(), **({"Idempotency-Key": key} if key else {})}
    return client.http.post("/v1/driver/wallet/top-ups", body=json.dumps(body), headers=headers)


def test_a_wechat_top_up_is_booked_to_the_wallet_once(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    created = top_up(client, 5000, "topup-key-0001")
    assert created.status_code == 201, created.body
    answer = created.json_body
    assert (answer["purpose"], answer["status"], answer["amount_fen"]) == ("wallet_top_up", "pending", 5000)
    top_up_id = answer["payment_id"]
    assert answer["provider_order"]["pay_params"]["package"] == f"prepay_id={wx.orders[top_up_id].prepay_id}"
    again = top_up(client, 5000, "topup-key-0001")
    assert again.status_code == 201 and again.json_body["payment_id"] == top_up_id and len(wx.orders) == 1
    assert top_up(client, 5001, "topup-key-0001").json_body["code"] == "idempotency_key_reused"
    assert balance(client) == OPENING

    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid(top_up_id))
    outcomes = [wechat_post(client, headers, body).json_body["outcome"] for _ in range(3)]
    assert outcomes == ["applied", "already_applied", "already_applied"]
    assert balance(client) == OPENING + 5000
    booked = posting(f"topup:{top_up_id}")
    assert booked is not None and sorted(booked.lines) == sorted(
        [["provider_clearing:wechat", 5000], ["wallet:demo-driver", -5000]]
    )
    assert Payment.get(top_up_id).status == PAID
    refused = top_up(client, 100, method="sandbox")
    assert refused.status_code == 400 and refused.json_body["code"] == "unsupported_method"
    assert top_up(client, 100, lot_id="no-such-lot").status_code == 404
    assert_books_hold()


def test_a_top_up_closed_while_its_notification_is_booked_is_booked_once(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    """The sweeper closes the order between the notification's read and its write: the money is
    real, so the booking tries again on the closed order and credits the wallet once (the fake
    WeChat takes the order)."""
    assert fakes
    top_up_id = top_up(client, 3000).json_body["payment_id"]
    read_before = Payment.get(top_up_id, consistent_read=True)
    Payment.get(top_up_id).update(actions=[Payment.status.set(CLOSED)])
    note = Notification(top_up_id, "wx-closed-meanwhile", 3000, "SUCCESS", iso(read_before.created_at))
    now = read_before.created_at + timedelta(minutes=20)
    assert orders.wallet_flows.book_top_up(read_before, note, now) is True
    assert orders.wallet_flows.book_top_up(Payment.get(top_up_id, consistent_read=True), note, now) is False
    assert balance(client) == OPENING + 3000
    assert Payment.get(top_up_id).status == PAID
    assert_books_hold()


def test_a_parking_fee_paid_from_the_balance_opens_the_exit_once(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    quote = quote_at_the_exit(client)
    paid = pay(client, quote, method="wallet")
    assert paid.status_code == 201, paid.body
    assert (paid.json_body["status"], paid.json_body["provider"]) == ("paid", "wallet")
    payment_id = paid.json_body["payment_id"]
    assert balance(client) == OPENING - quote["due_fen"]
    booked = posting(f"pay:{payment_id}")
    assert booked is not None and ["wallet:demo-driver", quote["due_fen"]] in booked.lines
    assert len(published.commands(EXIT, "open_gate")) == 1
    again = pay(client, quote, method="wallet")  # asking again: nothing is due any more
    assert again.status_code == 409 and balance(client) == OPENING - quote["due_fen"]
    assert_books_hold()


def test_a_short_balance_is_refused_and_no_provider_notification_books_a_wallet_payment(
    client: Client, published: Recorder, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    from chalicelib.payments.models import PENDING, Wallet
    from tests.integration.payments.test_payments import notify

    Wallet.get("demo-driver").update(actions=[Wallet.balance_fen.set(1)])
    quote = quote_at_the_exit(client)
    refused = pay(client, quote, method="wallet")
    assert refused.status_code == 409 and refused.json_body["code"] == "insufficient_balance"
    assert balance(client) == 1 and published.commands(EXIT, "open_gate") == []
    assert list(Payment.scan()) == []  # refused before anything is written
    # a pending wallet payment (made so in the table) and a genuine sandbox notification for it
    pending = pay(client, quote).json_body["payment_id"]
    Payment.get(pending).update(actions=[Payment.provider.set("wallet"), Payment.method.set("wallet")])
    forged = notify(client, pending, quote["due_fen"])
    assert forged.status_code == 409 and forged.json_body["code"] == "provider_mismatch"
    assert Payment.get(pending).status == PENDING and balance(client) == 1
    assert published.commands(EXIT, "open_gate") == []
