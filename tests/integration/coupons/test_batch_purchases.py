"""Batches a merchant buys (issue 15, item 3): the super admin orders fixed-value coupons at face
value × quantity and pays through the provider; the provider's notification (delivered twice)
makes the batch available once and posts the money once, to the merchant's prepaid balance,
which then funds the discount of each coupon of it used. An unpaid or failed order gives
nothing; another merchant neither sees it nor can give from it."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from chalicelib.coupons.models import BOUGHT, ORDERED, Batch
from chalicelib.ledger.models import JournalPosting
from chalicelib.payments import orders
from chalicelib.payments.sandbox import Notification
from tests.integration.coupons.test_coupons import PLATE, SHOP, call, enter, give, leave, merchant, now
from tests.integration.ledger.books import assert_books_hold
from tests.integration.payments.test_payments import notify
from tests.support.tokens import auth

FIVE_YUAN = {"kind": "amount", "value": 500, "quantity": 4, "method": "sandbox"}


def buy(client: Client, headers: dict[str, str] = SHOP, key: str | None = None, **fields: Any) -> Any:
    more = {"Idempotency-Key": key} if key else {}
    return call(client, "POST", "/v1/merchant/batch-purchases", {**FIVE_YUAN, **fields}, {**headers, **more})


def postings(kind: str) -> list[JournalPosting]:
    return [p for p in JournalPosting.scan() if p.kind == kind]


def test_a_bought_batch_is_made_available_once_by_its_notification_and_funds_its_coupons(
    client: Client,
) -> None:
    shop = merchant(client)
    ordered = buy(client, key="buy-0001")
    assert ordered.status_code == 201, ordered.body
    body = ordered.json_body
    batch_id, payment = body["batch"]["batch_id"], body["payment"]
    assert (body["batch"]["source"], body["price_fen"]) == (ORDERED, 2000)
    assert (payment["purpose"], payment["status"], payment["amount_fen"]) == ("coupon_batch", "pending", 2000)
    assert body["provider_order"]["out_trade_no"] == payment["payment_id"]
    again = buy(client, key="buy-0001")  # a retry is the same order: no second batch
    assert again.json_body["batch"]["batch_id"] == batch_id
    assert [b.batch_id for b in Batch.scan()] == [batch_id]

    first, second = (notify(client, payment["payment_id"], 2000, "txn-b1") for _ in range(2))
    assert (first.json_body["outcome"], second.json_body["outcome"]) == ("applied", "already_applied")
    seen = call(client, "GET", f"/v1/merchant/batch-purchases/{batch_id}", headers=SHOP).json_body
    assert seen["batch"]["source"] == BOUGHT and seen["payment"]["status"] == "paid"
    [bought] = postings("coupon_batch_bought")
    assert dict((a, n) for a, n in bought.lines) == {
        "provider_clearing:sandbox": 2000,
        f"merchant_prepaid:{shop}": -2000,
    }

    enter(minutes_ago=95)  # 1000 fen
    coupon = give(client, batch_id)
    assert coupon.status_code == 201, coupon.body
    quote = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
    assert quote["due_fen"] == 500
    paid = call(
        client, "POST", "/v1/driver/payments", {"quote_id": quote["quote_id"], "amount_fen": 500}, auth()
    ).json_body
    orders.apply_notification(Notification(paid["payment_id"], "txn-p1", 500, "SUCCESS", ""), now())
    [used] = postings("coupon_used")
    assert dict((a, n) for a, n in used.lines) == {f"merchant_prepaid:{shop}": 500, "discounts:demo-op": -500}
    assert leave()["result"] == "exited"
    assert_books_hold()


def test_an_unpaid_or_failed_order_gives_nothing_and_only_the_super_admin_buys(client: Client) -> None:
    shop = merchant(client)
    ordered = buy(client, claimable=True).json_body
    batch_id = ordered["batch"]["batch_id"]
    enter(minutes_ago=95)
    refused = give(client, batch_id)
    assert refused.status_code == 409 and refused.json_body["code"] == "batch_not_paid"
    claim = {"code": ordered["batch"]["claim_code"], "plate": PLATE}
    claimed = call(client, "POST", "/v1/driver/coupons/claims", claim, auth())
    assert claimed.status_code == 409 and claimed.json_body["code"] == "batch_not_paid"
    # the provider reports the trade closed: nothing is booked, the batch stays ordered
    closed = Notification(ordered["payment"]["payment_id"], "txn-x", 2000, "CLOSED", "")
    assert orders.apply_notification(closed, now()).outcome == orders.NOT_SUCCESS
    assert Batch.get(batch_id).source == ORDERED and postings("coupon_batch_bought") == []

    assert call(client, "POST", "/v1/merchant/members", {"user_id": "clerk-9"}, SHOP).status_code == 201
    clerk = buy(client, auth("clerk-9", ["merchant"]))
    assert clerk.status_code == 403 and clerk.json_body["code"] == "super_admin_only"
    timed = buy(client, kind="time", value=60)
    assert timed.status_code == 422 and timed.json_body["code"] == "not_purchasable"
    # another merchant neither sees the purchase nor gives from it
    merchant(client, boss="other-boss")
    theirs = auth("other-boss", ["merchant"])
    assert call(client, "GET", f"/v1/merchant/batch-purchases/{batch_id}", headers=theirs).status_code == 404
    assert give(client, batch_id, headers=theirs).status_code == 404
    assert shop and Batch.get(batch_id).issued == 0
    assert (
        json.dumps(call(client, "GET", "/v1/merchant/batches", headers=theirs).json_body).count(batch_id) == 0
    )
