"""Daily reconciliation against the local fakes' statements (WeChat Pay's tradebill CSV, Alipay's
GBK bill zip), through the adapters' bill download: a day with a payment whose notification never
arrived and a payment whose amount the provider reports differently lists exactly those two (a
wallet top-up paid and notified on that account is matched like a parking fee);
finance resolves each with a reason, once; a day's payment records carry source and method."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib.parking import devices as handlers
from chalicelib.payments import channels, merchants, reconcile
from chalicelib.payments.models import Payment
from infra.local.fake_alipay import FakeAlipay
from infra.local.fake_wechat import FakeWeChat
from tests.support.iot import capture, iot_event
from tests.support.tokens import auth, staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
FINANCE = staff("demo-op", "fin-zhao", roles=("finance",))
OTHER_FINANCE = staff("other-op", "fin-b", roles=("finance",))
FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


def now() -> datetime:
    return datetime.now(UTC)


def pending_payment(client: Client, plate: str, provider: str) -> Payment:
    """A car waiting at the exit, its driver's payment placed at the provider's fake."""
    client.http.post("/v1/driver/plates", body=json.dumps({"plate": plate}), headers=auth())
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), now() - timedelta(minutes=95)
    )
    assert handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), now())["result"] == (
        "payment_required"
    )
    quote = client.http.post("/v1/driver/quotes", body=json.dumps({"plate": plate}), headers=auth()).json_body
    created = client.http.post(
        "/v1/driver/payments",
        body=json.dumps({"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"]}),
        headers=auth(),
    ).json_body
    payment = Payment.get(created["payment_id"])
    payment.update(actions=[Payment.provider.set(provider), Payment.method.set(provider)])
    channels.provider_order(
        provider,
        site_kind=merchants.LOT,
        site_id=str(payment.lot_id),
        out_trade_no=str(payment.payment_id),
        amount_fen=int(payment.amount_fen),
        description=f"停车费 {plate}",
        payer_id="o-openid" if provider == merchants.WECHAT else "2088002000000001",
        expires_at=payment.expires_at or now(),
        now=now(),
    )
    return payment


def notify_wechat(client: Client, wx: FakeWeChat, payment_id: str) -> None:
    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid(payment_id))
    answer = client.http.post(
        "/v1/pay/wechat/notify", body=body, headers={"Content-Type": "application/json", **headers}
    )
    assert answer.status_code == 200, answer.body


def notify_alipay(client: Client, ali: FakeAlipay, payment_id: str) -> None:
    answer = client.http.post(
        "/v1/pay/alipay/notify", body=ali.notification(ali.mark_paid(payment_id)), headers=FORM
    )
    assert answer.status_code == 200, answer.body


def plant_a_day(client: Client, fakes: tuple[FakeWeChat, FakeAlipay]) -> dict[str, Any]:
    wx, ali = fakes
    matched = pending_payment(client, "粤B10001", merchants.WECHAT)
    notify_wechat(client, wx, str(matched.payment_id))
    lost = pending_payment(client, "粤B10002", merchants.WECHAT)
    wx.mark_paid(str(lost.payment_id))  # paid at the provider; its notification never arrives
    differs = pending_payment(client, "粤B10003", merchants.ALIPAY)
    notify_alipay(client, ali, str(differs.payment_id))
    with ali._lock:  # the provider's statement reports another amount than it notified
        ali.trades[str(differs.payment_id)].total += 100
    # a wallet top-up paid at the lot's account and notified: on the statement and in the journal
    top_up = client.http.post(
        "/v1/driver/wallet/top-ups",
        body=json.dumps(
            {"amount_fen": 5000, "method": "wechat", "payer_id": "o-openid", "lot_id": "demo-lot"}
        ),
        headers=auth(),
    )
    assert top_up.status_code == 201, top_up.body
    notify_wechat(client, wx, top_up.json_body["payment_id"])
    # a paid reservation paid at the lot's account and notified: matched too
    offer = {"paid_reservation": {"fee_fen": 500, "prepaid_fen": 1000}}
    client.http.put("/v1/ops/lots/demo-lot/identity-options", body=json.dumps(offer), headers=staff())
    window = {"starts": now().isoformat(), "ends": (now() + timedelta(hours=2)).isoformat()}
    booking = {"lot_id": "demo-lot", "plate": "粤B10004", "paid": True, **window}
    made = client.http.post("/v1/driver/reservations", body=json.dumps(booking), headers=auth()).json_body
    paid = client.http.post(
        f"/v1/driver/reservations/{made['reservation_id']}/payments",
        body=json.dumps({"method": "wechat", "payer_id": "o-openid"}),
        headers=auth(),
    )
    assert paid.status_code == 201, paid.body
    notify_wechat(client, wx, paid.json_body["payment"]["payment_id"])
    return {"matched": matched, "lost": lost, "differs": differs}


def test_a_day_with_a_lost_notification_and_an_amount_difference_lists_exactly_those_two(
    client: Client, fakes: tuple[FakeWeChat, FakeAlipay]
) -> None:
    planted = plant_a_day(client, fakes)
    at = now()
    day = at.astimezone(reconcile.CHINA).date()
    summary = reconcile.run(day, at)
    assert summary["failed"] == [] and summary["accounts"] == 2

    listed = client.http.get(f"/v1/ops/reconciliation/{day}/differences", headers=FINANCE)
    assert listed.status_code == 200, listed.body
    found = {
        (d["kind"], d["out_trade_no"], d["provider_fen"], d["journal_fen"])
        for d in listed.json_body["differences"]
    }
    lost, differs = planted["lost"], planted["differs"]
    assert found == {
        ("provider_only", lost.payment_id, int(lost.amount_fen), None),
        ("amount_differs", differs.payment_id, int(differs.amount_fen) + 100, int(differs.amount_fen)),
    }
    # Another operator's finance sees none of them; a second run adds nothing.
    assert (
        client.http.get(f"/v1/ops/reconciliation/{day}/differences", headers=OTHER_FINANCE).json_body[
            "differences"
        ]
        == []
    )
    assert reconcile.run(day, now())["differences"] == 2
    assert (
        len(
            client.http.get(f"/v1/ops/reconciliation/{day}/differences", headers=FINANCE).json_body[
                "differences"
            ]
        )
        == 2
    )

    # Finance resolves one with a reason, once, in the audit log.
    difference_id = f"wechat:{lost.payment_id}"
    path = f"/v1/ops/reconciliation/{day}/differences/{difference_id}/resolve"
    resolved = client.http.post(path, headers=FINANCE, body=json.dumps({"reason": "通知丢失, 已人工补单"}))
    assert resolved.status_code == 200, resolved.body
    assert (resolved.json_body["status"], resolved.json_body["resolved_by"]) == ("resolved", "fin-zhao")
    again = client.http.post(path, headers=FINANCE, body=json.dumps({"reason": "again"}))
    assert again.status_code == 409 and again.json_body["code"] == "difference_resolved"
    crossed = client.http.post(path, headers=OTHER_FINANCE, body=json.dumps({"reason": "x"}))
    assert crossed.status_code == 404
    audit = client.http.get(
        f"/v1/ops/audit?object_type=reconciliation&object_id={day}/{difference_id}", headers=FINANCE
    ).json_body["entries"]
    assert [(e["action"], e["reason"]) for e in audit] == [("difference_resolved", "通知丢失, 已人工补单")]
    reconcile.run(day, now())  # a later run keeps the resolution
    kept = reconcile.differences("demo-op", day)
    assert {d.difference_id: d.status for d in kept}[difference_id] == "resolved"

    # The day's payment records: the two booked ones, each with its source and method.
    records = client.http.get(f"/v1/ops/lots/demo-lot/payment-records?day={day}", headers=FINANCE).json_body
    assert {(r["payment_id"], r["method"], r["source"]) for r in records["payments"]} == {
        (planted["matched"].payment_id, "wechat", "driver_api"),
        (differs.payment_id, "alipay", "driver_api"),
    }
