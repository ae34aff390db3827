"""A driver withdraws wallet balance: paid back through the top-ups it came from (WeChat Pay and
Alipay, the fakes on loopback), one refund per top-up through the refund workflow; the amount
leaves the wallet when asked and comes back when a review rejects it. The books hold throughout."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib.ledger.models import JournalPosting
from chalicelib.payments.models import Payment
from infra.local.fake_alipay import FakeAlipay
from infra.local.fake_wechat import FakeWeChat
from tests.integration.ledger.books import assert_books_hold
from tests.integration.payments.conftest import fakes, provider_keys
from tests.integration.payments.test_checkout import pay, quote_at_the_exit
from tests.integration.payments.test_provider_callbacks import wechat_post
from tests.integration.payments.test_wallet_flows import OPENING, balance, top_up
from tests.integration.workflows.refund_support import CS, DRIVER, FIN, decide, machine, post
from tests.support.iot import Recorder

__all__ = ["fakes", "provider_keys"]
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def topped_up(client: Client, wx: FakeWeChat, ali: FakeAlipay) -> tuple[str, str]:
    """A 3000 WeChat top-up, then a 2000 Alipay one, both paid: their ids."""
    wechat_id = top_up(client, 3000).json_body["payment_id"]
    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid(wechat_id))
    assert wechat_post(client, headers, body).status_code == 200
    alipay_id = top_up(client, 2000, method="alipay", payer_id="2088002000000001").json_body["payment_id"]
    form = ali.notification(ali.mark_paid(alipay_id))
    assert client.http.post("/v1/pay/alipay/notify", body=form, headers=FORM).status_code == 200
    assert balance(client) == OPENING + 5000
    return wechat_id, alipay_id


def withdraw(client: Client, amount: int) -> Any:
    return post(client, "/v1/driver/wallet/withdrawals", DRIVER, {"amount_fen": amount})


def reviewed(client: Client, refund_id: str, decision: str = "approve") -> dict[str, Any]:
    machine(refund_id)
    assert decide(client, refund_id, CS, 0, decision, "driver's withdrawal").status_code == 200
    if decision == "reject":
        return machine(refund_id)
    machine(refund_id)
    assert decide(client, refund_id, FIN, 1, "approve").status_code == 200
    return machine(refund_id)


def test_a_withdrawal_goes_back_through_the_top_ups_it_came_from(
    client: Client, machines: dict[str, str], fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, ali = fakes
    wechat_id, alipay_id = topped_up(client, wx, ali)
    too_much = withdraw(client, 5001)  # the opening balance did not come through a provider
    assert too_much.status_code == 422 and too_much.json_body["code"] == "amount_too_high"
    assert "at most 5000 fen" in too_much.json_body["message"]

    asked = withdraw(client, 4000)
    assert asked.status_code == 202, asked.json_body
    opened = asked.json_body["refunds"]
    # newest top-up first: all of the Alipay one, then 2000 of the WeChat one
    assert [(r["subject_id"], r["amount_fen"]) for r in opened] == [(alipay_id, 2000), (wechat_id, 2000)]
    assert {r["subject_kind"] for r in opened} == {"wallet_top_up"}
    assert balance(client) == OPENING + 1000  # it left the wallet when asked
    for refund in opened:
        assert reviewed(client, refund["refund_id"])["status"] == "refunded"
    assert wx.refunds[opened[1]["refund_id"]].refund == 2000
    assert [number for (_no, number) in ali.refunds] == [opened[0]["refund_id"]]
    assert (Payment.get(wechat_id).refunded_fen, Payment.get(alipay_id).refunded_fen) == (2000, 2000)
    ids = {str(p.posting_id) for p in JournalPosting.scan()}
    assert {f"withdraw:{r['refund_id']}" for r in opened} | {
        f"refund:{r['refund_id']}" for r in opened
    } <= ids
    assert balance(client) == OPENING + 1000
    assert_books_hold()
    # a top-up is withdrawn, never refunded as a parking payment
    parking = post(client, f"/v1/driver/parking/payments/{wechat_id}/refunds", DRIVER, {"amount_fen": 100})
    assert parking.status_code == 404


def test_a_rejected_withdrawal_comes_back_to_the_wallet(
    client: Client, machines: dict[str, str], fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, ali = fakes
    wechat_id = top_up(client, 3000).json_body["payment_id"]
    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid(wechat_id))
    assert wechat_post(client, headers, body).status_code == 200
    [refund] = withdraw(client, 1000).json_body["refunds"]
    assert balance(client) == OPENING + 2000
    ended = reviewed(client, refund["refund_id"], "reject")
    assert ended["status"] == "rejected"
    assert balance(client) == OPENING + 3000 and wx.refunds == {} and ali.refunds == {}
    assert json.dumps(client.http.get("/v1/driver/wallet", headers=DRIVER).json_body["status"]) == '"active"'
    assert_books_hold()


def test_a_fee_paid_from_the_wallet_is_refunded_to_the_wallet(
    client: Client, published: Recorder, machines: dict[str, str], fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    quote = quote_at_the_exit(client)
    payment_id = pay(client, quote, method="wallet").json_body["payment_id"]
    assert balance(client) == OPENING - quote["due_fen"]
    asked = post(client, f"/v1/driver/parking/payments/{payment_id}/refunds", DRIVER, {"amount_fen": 100})
    assert asked.status_code == 202, asked.json_body
    assert asked.json_body["route"] == "wallet"
    assert reviewed(client, asked.json_body["refund_id"])["status"] == "refunded"
    assert balance(client) == OPENING - quote["due_fen"] + 100
    assert Payment.get(payment_id).refunded_fen == 100 and wx_untouched(fakes)
    assert_books_hold()


def wx_untouched(fakes: tuple[FakeWeChat, FakeAlipay]) -> bool:
    return fakes[0].refunds == {} and fakes[1].refunds == {}
