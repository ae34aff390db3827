"""Merchant coupons over HTTP (domain.md §2.5): the operator sets up a merchant and its batches,
merchant staff give coupons to cars in the lot, the quote prices the best one in, the payment or
a zero-due exit uses it once (booked as the merchant's discount), limits and budgets refuse with
a clear 409, and the reports count it all."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib.coupons.models import USED, Coupon
from chalicelib.ledger.models import JournalPosting
from chalicelib.parking import devices as handlers
from chalicelib.payments import orders
from chalicelib.payments.sandbox import Notification
from tests.support.iot import capture, iot_event
from tests.support.tokens import auth, staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
OPS = staff("demo-op")
SHOP = auth("shop-boss", ["merchant"])


def now() -> datetime:
    return datetime.now(UTC)


def enter(minutes_ago: int, plate: str = PLATE) -> None:
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), now() - timedelta(minutes=minutes_ago)
    )


def leave(plate: str = PLATE) -> dict:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), now())


def call(
    client: Client, method: str, path: str, body: object = None, headers: dict[str, str] | None = None
) -> Any:
    raw = json.dumps(body).encode() if body is not None else b""
    return client.http.request(method, path, body=raw, headers=headers or OPS)


def merchant(client: Client, budget: dict[str, Any] | None = None, boss: str = "shop-boss") -> str:
    made = call(
        client, "POST", "/v1/ops/merchants", {"lot_id": "demo-lot", "name": "奶茶店", "budget": budget}
    )
    assert made.status_code == 201, made.body
    merchant_id = made.json_body["merchant_id"]
    joined = call(
        client, "POST", f"/v1/ops/merchants/{merchant_id}/members", {"user_id": boss, "role": "super_admin"}
    )
    assert joined.status_code == 201, joined.body
    return str(merchant_id)


def batch(client: Client, merchant_id: str, **fields: Any) -> dict[str, Any]:
    made = call(client, "POST", f"/v1/ops/merchants/{merchant_id}/batches", fields)
    assert made.status_code == 201, made.body
    return dict(made.json_body)


def give(
    client: Client, batch_id: str, plate: str = PLATE, headers: dict[str, str] | None = None, **more: Any
) -> Any:
    return call(
        client,
        "POST",
        "/v1/merchant/coupons",
        {"batch_id": batch_id, "plate": plate, **more},
        headers or SHOP,
    )


def test_a_time_coupon_is_priced_as_the_shorter_stay_used_once_by_the_payment_and_booked_to_the_merchant(
    client: Client,
) -> None:
    shop = merchant(client)
    two_hours = batch(client, shop, kind="time", value=120, quantity=10)
    enter(minutes_ago=185)  # demo tariff: 15 free minutes, then 250 fen per started half hour
    seen = call(client, "GET", f"/v1/merchant/car?plate={PLATE}", headers=SHOP).json_body
    assert seen["fee_fen"] == 1750 and seen["held_from_you"] == 0 and seen["entered_at"]
    coupon = give(client, two_hours["batch_id"])
    assert coupon.status_code == 201, coupon.body
    coupon_id = coupon.json_body["coupon_id"]
    quote = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
    [line] = [d for d in quote["discounts"] if d["kind"] == "coupon"]
    assert line["coupon_ids"] == [coupon_id] and line["amount_fen"] == 1000  # 65 minutes left: 3 half hours
    assert quote["total_fen"] == 1750 and quote["due_fen"] == 750
    payment = call(
        client, "POST", "/v1/driver/payments", {"quote_id": quote["quote_id"], "amount_fen": 750}, auth()
    ).json_body
    orders.apply_notification(Notification(payment["payment_id"], "txn-c1", 750, "SUCCESS", ""), now())
    used = Coupon.get(coupon_id)
    assert used.status == USED and int(used.discount_fen) == 1000 and used.used_ref == payment["payment_id"]
    assert leave()["result"] == "exited"
    posting = JournalPosting.get(f"coupon:{coupon_id}")
    assert dict((a, n) for a, n in posting.lines) == {
        f"merchant_discounts:{shop}": 1000,
        "discounts:demo-op": -1000,
    }
    report = call(client, "GET", "/v1/merchant/report", headers=SHOP).json_body
    assert report["totals"] == {"given": 1, "claimed": 0, "used": 1, "expired": 0, "discounted_fen": 1000}
    csv = call(client, "GET", f"/v1/ops/merchants/{shop}/report?format=csv")
    assert (
        csv.status_code == 200
        and csv.body.decode().splitlines()[0] == "day,given,claimed,used,expired,discounted_fen"
    )


def test_two_payments_of_quotes_with_the_same_coupon_use_it_once(client: Client) -> None:
    """Two quotes priced with the same coupon, both paid: the first payment uses it, the second
    is priced without it (in-process moto is not atomic under threads, so the race itself is
    the e2e test's, on the local stack)."""
    shop = merchant(client)
    five_yuan = batch(client, shop, kind="amount", value=500, quantity=10)
    enter(minutes_ago=95)  # 1000 fen
    coupon_id = give(client, five_yuan["batch_id"]).json_body["coupon_id"]
    payments = []
    for _ in range(2):
        q = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
        assert q["due_fen"] == 500
        payments.append(
            call(
                client, "POST", "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 500}, auth()
            ).json_body
        )
    for p in payments:
        orders.apply_notification(
            Notification(p["payment_id"], f"txn-{p['payment_id']}", 500, "SUCCESS", ""), now()
        )
    assert Coupon.get(coupon_id).status == USED
    uses = [p for p in JournalPosting.scan() if p.kind == "coupon_used"]
    assert len(uses) == 1 and sum(n for _, n in uses[0].lines if n > 0) == 500


def test_a_release_coupon_opens_the_exit_with_nothing_to_pay_and_the_budget_refuses_the_next(
    client: Client,
) -> None:
    shop = merchant(client, budget={"period": "day", "fen": 1500})
    release = batch(client, shop, kind="release", expires_hours=2)
    assert release["source"] == "budget"
    enter(minutes_ago=95)  # 1000 fen: reserves 1000 of the day's 1500
    first = give(client, release["batch_id"])
    assert first.status_code == 201, first.body
    enter(minutes_ago=95, plate="粤B77777")
    refused = give(client, release["batch_id"], plate="粤B77777")
    assert refused.status_code == 409 and refused.json_body["code"] == "budget_exhausted"
    assert "500 fen left" in refused.json_body["message"]
    out = leave()
    assert out["result"] == "exited"
    assert Coupon.get(first.json_body["coupon_id"]).status == USED
    assert call(client, "GET", "/v1/merchant/report", headers=SHOP).json_body["budget_left_fen"] == 500


def test_refusals_a_car_not_in_the_lot_limits_a_second_coupon_and_another_merchant(client: Client) -> None:
    shop = merchant(client)
    limited = batch(client, shop, kind="amount", value=100, quantity=2, per_person_per_day=1, claimable=True)
    missing = give(client, limited["batch_id"], plate="粤B00000")
    assert missing.status_code == 409 and missing.json_body["code"] == "car_not_in_lot"
    enter(minutes_ago=60)
    assert give(client, limited["batch_id"]).status_code == 201
    second = give(client, limited["batch_id"])
    assert second.status_code == 409 and second.json_body["code"] == "already_holds_your_coupon"
    limit = give(client, limited["batch_id"], confirm_second=True)
    assert limit.status_code == 409 and limit.json_body["code"] == "coupon_limit_reached"
    # A driver claims by the batch's QR code (their own plate, in the lot): the per-person limit
    # counts the driver, so it is the batch's total that stops the third one.
    claimed = call(
        client, "POST", "/v1/driver/coupons/claims", {"code": limited["claim_code"], "plate": PLATE}, auth()
    )
    assert claimed.status_code == 201, claimed.body
    enter(minutes_ago=60, plate="粤B66666")
    used_up = give(client, limited["batch_id"], plate="粤B66666")
    assert used_up.status_code == 409 and used_up.json_body["code"] == "batch_used_up"
    # Another merchant's staff neither sees nor gives this merchant's coupons.
    other = merchant(client, boss="other-boss")
    assert other != shop
    theirs = auth("other-boss", ["merchant"])
    assert give(client, limited["batch_id"], headers=theirs).status_code == 404
    assert call(client, "GET", "/v1/merchant/coupons", headers=theirs).json_body["coupons"] == []
    # A person belongs to one merchant; only the super admin adds admins.
    again = call(
        client, "POST", f"/v1/ops/merchants/{other}/members", {"user_id": "shop-boss", "role": "admin"}
    )
    assert again.status_code == 409 and again.json_body["code"] == "already_a_member"
    assert call(client, "POST", "/v1/merchant/members", {"user_id": "clerk-1"}, SHOP).status_code == 201
    clerk = auth("clerk-1", ["merchant"])
    assert call(client, "POST", "/v1/merchant/members", {"user_id": "clerk-2"}, clerk).status_code == 403
    assert call(client, "GET", "/v1/merchant/me", headers=auth("nobody", ["merchant"])).status_code == 403
    assert call(client, "GET", "/v1/merchant/me", headers=auth()).status_code == 403  # a driver


def test_a_named_coupon_is_used_instead_of_the_best_and_one_unused_coupon_per_car_is_kept(
    client: Client,
) -> None:
    shop = merchant(client)
    one_yuan = batch(client, shop, kind="amount", value=100, quantity=10)
    tenth = batch(client, shop, kind="percent", value=10, quantity=10)
    enter(minutes_ago=95)  # 1000 fen
    small = give(client, one_yuan["batch_id"]).json_body["coupon_id"]
    give(client, tenth["batch_id"], confirm_second=True)
    best = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
    [line] = [d for d in best["discounts"] if d["kind"] == "coupon"]
    assert line["coupon_kind"] == "amount" or line["amount_fen"] >= 100  # the one saving most
    named = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE, "coupon_ids": [small]}, auth())
    assert named.status_code == 201 and named.json_body["due_fen"] == 900
    mixed = call(
        client,
        "POST",
        "/v1/driver/quotes",
        {"plate": PLATE, "coupon_ids": [small, line["coupon_ids"][0]]},
        auth(),
    )
    assert mixed.status_code == 422 and mixed.json_body["code"] == "coupon_not_usable"
    # The lot keeps one unused coupon per car: a second car gets one, then no more.
    assert (
        call(client, "PUT", "/v1/ops/lots/demo-lot/coupon-settings", {"one_unused_per_car": True}).status_code
        == 200
    )
    enter(minutes_ago=30, plate="粤B55555")
    assert give(client, one_yuan["batch_id"], plate="粤B55555").status_code == 201
    again = give(client, one_yuan["batch_id"], plate="粤B55555", confirm_second=True)
    assert again.status_code == 409 and again.json_body["code"] == "one_unused_per_car"


def test_a_failed_payment_or_a_superseded_quote_leaves_the_coupon_with_the_car(client: Client) -> None:
    shop = merchant(client)
    five_yuan = batch(client, shop, kind="amount", value=500, quantity=10)
    enter(minutes_ago=95)  # 1000 fen
    coupon_id = give(client, five_yuan["batch_id"]).json_body["coupon_id"]
    first = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
    paying = call(
        client, "POST", "/v1/driver/payments", {"quote_id": first["quote_id"], "amount_fen": 500}, auth()
    )
    failed = orders.apply_notification(
        Notification(paying.json_body["payment_id"], "txn-f", 500, "PAYERROR", ""), now()
    )
    assert failed.outcome == orders.NOT_SUCCESS and Coupon.get(coupon_id).status == "given"
    second = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body  # supersedes
    assert [d["coupon_ids"] for d in second["discounts"] if d["kind"] == "coupon"] == [[coupon_id]]
    # The superseded quote's money still counts (late), without the coupon: it stays with the car.
    orders.apply_notification(
        Notification(paying.json_body["payment_id"], "txn-l", 500, "SUCCESS", ""), now()
    )
    assert Coupon.get(coupon_id).status == "given"
    third = call(client, "POST", "/v1/driver/quotes", {"plate": PLATE}, auth()).json_body
    assert third["due_fen"] == 0 and [
        d["amount_fen"] for d in third["discounts"] if d["kind"] == "coupon"
    ] == [500]
