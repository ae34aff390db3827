"""Parking refunds of WeChat Pay and Alipay payments inside the refund workflow, against the fakes
on loopback: the refund reaches the provider numbered by the refund id; WeChat's PROCESSING
answer leaves it paying until its REFUND.SUCCESS notification, verified, books it once (delivered
three times; a tampered or wrong-amount one is refused); Alipay's synchronous answer books it."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib.ledger.models import JournalPosting
from chalicelib.payments import merchants
from chalicelib.payments.models import Payment
from chalicelib.payments.ports import ProviderUnavailable
from chalicelib.workflows import refund_tasks
from chalicelib.workflows.refund_models import Refund
from infra.local.fake_alipay import FakeAlipay
from infra.local.fake_wechat import FakeWeChat
from tests.integration.payments.conftest import fakes, provider_keys
from tests.integration.payments.test_provider_callbacks import (
    waiting_at_the_exit_with_a_payment as paying,
)
from tests.integration.payments.test_provider_callbacks import wechat_post
from tests.integration.workflows.refund_support import CS, DRIVER, FIN, decide, machine, now, post
from tests.support.iot import Recorder

__all__ = ["fakes", "provider_keys"]
REFUND_NOTIFY = "/v1/pay/wechat/refund-notify"


def approved_refund(client: Client, payment_id: str, amount: int) -> str:
    asked = post(client, f"/v1/driver/parking/payments/{payment_id}/refunds", DRIVER, {"amount_fen": amount})
    assert asked.status_code == 202, asked.json_body
    refund_id = str(asked.json_body["refund_id"])
    machine(refund_id)
    assert decide(client, refund_id, CS, 0, "approve", "charged twice").status_code == 200
    machine(refund_id)
    assert decide(client, refund_id, FIN, 1, "approve").status_code == 200
    return refund_id


def refund_postings(refund_id: str) -> list[JournalPosting]:
    return [p for p in JournalPosting.scan() if str(p.posting_id) == f"refund:{refund_id}"]


def test_a_wechat_refund_is_booked_once_by_its_notification(
    client: Client, published: Recorder, machines: dict[str, str], fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    wx, _ali = fakes
    payment = paying(client, merchants.WECHAT)
    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid(str(payment.payment_id)))
    assert wechat_post(client, headers, body).status_code == 200
    refund_id = approved_refund(client, str(payment.payment_id), 300)

    wx.refunds_processing = True
    ref = {"approval_id": refund_id}
    try:
        refund_tasks.pay(ref, now())
        raise AssertionError("a processing refund is not paid yet")
    except ProviderUnavailable as exc:
        assert "processing" in str(exc)
    assert wx.refunds[refund_id].refund == 300 and Refund.get(refund_id).status == "paying"
    assert refund_postings(refund_id) == []

    wx.refunds[refund_id].status = "SUCCESS"
    note_headers, note_body = wx.refund_note(refund_id)
    tampered = note_body.replace('"summary":"退款成功"', '"summary":"ok"')
    refused = client.http.post(REFUND_NOTIFY, body=tampered, headers=note_headers)
    assert refused.status_code == 401 and refused.json_body["code"] == "bad_signature"
    Refund.get(refund_id).update(actions=[Refund.amount_fen.set(301)])  # as if we had asked 301
    wrong = client.http.post(REFUND_NOTIFY, body=note_body, headers=note_headers)
    assert wrong.status_code == 409 and wrong.json_body["code"] == "amount_mismatch"
    Refund.get(refund_id).update(actions=[Refund.amount_fen.set(300)])
    assert refund_postings(refund_id) == []

    answers = [client.http.post(REFUND_NOTIFY, body=note_body, headers=note_headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json_body["outcome"] for a in answers] == ["applied", "already_applied", "already_applied"]
    refund = Refund.get(refund_id)
    assert refund.status == "refunded" and refund.provider_refund_id == wx.refunds[refund_id].refund_id
    assert len(refund_postings(refund_id)) == 1
    paid = Payment.get(str(payment.payment_id))
    assert (paid.refunded_fen, paid.refund_in_flight_fen) == (300, 0)
    # the machine's retry of Pay finds it refunded, and tells the driver
    ended = machine(refund_id)
    assert ended["status"] == "refunded" and len(refund_postings(refund_id)) == 1
    shown = client.http.get(f"/v1/driver/refunds/{refund_id}", headers=DRIVER).json_body
    assert shown["notifications"][0]["state"] == "refunded"


def test_an_alipay_refund_is_booked_from_the_providers_answer(
    client: Client, published: Recorder, machines: dict[str, str], fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    _wx, ali = fakes
    payment = paying(client, merchants.ALIPAY)
    form = ali.notification(ali.mark_paid(str(payment.payment_id)))
    form_headers = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}
    assert client.http.post("/v1/pay/alipay/notify", body=form, headers=form_headers).status_code == 200
    refund_id = approved_refund(client, str(payment.payment_id), int(payment.amount_fen))

    ended: dict[str, Any] = machine(refund_id)
    assert (ended["status"], ended["attempts"]) == ("refunded", 1)
    trade = ali.trades[str(payment.payment_id)]
    assert trade.refunded == int(payment.amount_fen)
    assert [number for (_no, number) in ali.refunds] == [refund_id]  # our refund id is its number
    assert len(refund_postings(refund_id)) == 1
    again = machine(refund_id)  # a repeated Pay task: the same refund at Alipay, booked once
    assert again["status"] == "refunded" and len(refund_postings(refund_id)) == 1
    assert json.loads(json.dumps(Payment.get(str(payment.payment_id)).refunded_fen)) == int(
        payment.amount_fen
    )
