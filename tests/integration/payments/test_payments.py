"""Drivers query, quote and pay over HTTP (Chalice's test client); the sandbox provider's signed
notification is verified and applied once; the car waiting at the exit is let out."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, INSIDE, Visit
from chalicelib.payments import sandbox
from chalicelib.payments.models import PAID, Payment
from tests.conftest import KEYS
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
CALLBACK = "/v1/callbacks/payments/sandbox"


def now() -> datetime:
    return datetime.now(UTC)


def enter(minutes_ago: int, plate: str = PLATE) -> None:
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), now() - timedelta(minutes=minutes_ago)
    )


def leave(plate: str = PLATE) -> dict:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), now())


def post(client: Client, path: str, body: object, headers: dict[str, str] | None = None) -> Any:
    return client.http.post(path, body=json.dumps(body), headers=headers or auth())


def quote(client: Client) -> dict:
    response = post(client, "/v1/driver/quotes", {"plate": PLATE})
    assert response.status_code == 201, response.body
    return response.json_body


def notify(client: Client, payment_id: str, amount: int, txn: str = "txn-1", key: bytes | None = None) -> Any:
    body = json.dumps(
        {
            "out_trade_no": payment_id,
            "transaction_id": txn,
            "amount_fen": amount,
            "trade_state": "SUCCESS",
            "success_time": "2026-11-22T01:00:00Z",
        }
    )
    headers = sandbox.sign(key or KEYS.pay_private.read_bytes(), body)
    return client.http.post(CALLBACK, body=body, headers={**headers, "Content-Type": "application/json"})


def visit() -> Visit:
    return next(iter(Visit.query(f"demo-lot#{PLATE}", scan_index_forward=False, limit=1)))


def test_a_driver_finds_the_visit_and_gets_a_quote_with_a_breakdown(client: Client) -> None:
    enter(minutes_ago=95)
    found = client.http.get(f"/v1/driver/visits?plate={PLATE}", headers=auth())
    assert found.status_code == 200
    [shown] = found.json_body["visits"]
    assert shown["status"] == "inside" and shown["lot_id"] == "demo-lot"
    q = quote(client)
    assert q["total_fen"] == 1000 and q["due_fen"] == 1000 and q["paid_fen"] == 0  # 4 half hours at 2.50
    assert sum(line["amount_fen"] for line in q["breakdown"]) == q["total_fen"]
    assert q["expires_at"] > q["priced_until"]


def test_paying_another_amount_than_the_quote_is_refused(client: Client) -> None:
    enter(minutes_ago=95)
    q = quote(client)
    for wrong in (200, 1001):
        response = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": wrong})
        assert response.status_code == 422
        assert response.json_body["code"] == "amount_mismatch"
        assert "1000 fen" in response.json_body["message"]
    floaty = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 10.0})
    assert floaty.status_code == 400 and floaty.json_body["code"] == "invalid_amount"


def test_a_full_paid_exit_with_a_duplicate_notification(client: Client, published: Recorder) -> None:
    enter(minutes_ago=95)
    assert leave()["result"] == "payment_required"
    assert published.commands(EXIT, "open_gate") == []
    q = quote(client)
    created = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": q["due_fen"]})
    assert created.status_code == 201 and created.json_body["status"] == "pending"
    payment_id = created.json_body["payment_id"]
    assert created.json_body["provider_order"]["out_trade_no"] == payment_id

    first = notify(client, payment_id, 1000)
    second = notify(client, payment_id, 1000)
    assert first.status_code == second.status_code == 200
    assert first.json_body["code"] == second.json_body["code"] == "SUCCESS"

    paid = visit()
    assert paid.paid_fen == 1000 and paid.status == EXITED and paid.total_fen == 1000
    assert len(published.commands(EXIT, "open_gate")) == 1
    assert Payment.get(payment_id).status == PAID
    mine = client.http.get(f"/v1/driver/payments/{payment_id}", headers=auth())
    assert mine.json_body["status"] == "paid" and mine.json_body["provider_txn_id"] == "txn-1"


def test_a_car_that_paid_in_the_lot_leaves_within_the_grace_window(
    client: Client, published: Recorder
) -> None:
    enter(minutes_ago=95)
    q = quote(client)
    payment_id = post(
        client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 1000}
    ).json_body["payment_id"]
    assert notify(client, payment_id, 1000).status_code == 200
    assert visit().status == INSIDE  # nobody was waiting at an exit
    assert leave()["result"] == "exited"
    assert len(published.commands(EXIT, "open_gate")) == 1
    again = post(client, "/v1/driver/quotes", {"plate": PLATE})
    assert again.status_code == 404 and again.json_body["code"] == "no_open_visit"


def test_paying_the_same_quote_twice_gives_the_same_payment(client: Client) -> None:
    enter(minutes_ago=95)
    q = quote(client)
    a = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 1000}).json_body
    b = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 1000}).json_body
    assert a["payment_id"] == b["payment_id"]


def test_notifications_that_are_not_genuine_are_refused(client: Client) -> None:
    enter(minutes_ago=95)
    q = quote(client)
    payment_id = post(
        client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 1000}
    ).json_body["payment_id"]
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    forged = notify(client, payment_id, 1000, key=stranger)
    assert forged.status_code == 401 and forged.json_body["code"] == "bad_signature"
    unsigned = client.http.post(CALLBACK, body="{}", headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    unknown = notify(client, "p-nope", 1000)
    assert unknown.status_code == 404 and unknown.json_body["code"] == "unknown_order"
    short = notify(client, payment_id, 2)
    assert short.status_code == 409 and short.json_body["code"] == "amount_mismatch"
    assert visit().paid_fen == 0


def test_an_expired_quote_cannot_be_paid(client: Client) -> None:
    from chalicelib.parking.models import Quote

    enter(minutes_ago=95)
    q = quote(client)
    stored = Quote.get(q["quote_id"])
    stored.expires_at = now() - timedelta(seconds=1)
    stored.save()
    response = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": 1000})
    assert response.status_code == 410 and response.json_body["code"] == "quote_expired"


def test_bad_bodies_get_clear_errors(client: Client) -> None:
    raw = client.http.post("/v1/driver/quotes", body="{nope", headers=auth())
    assert raw.status_code == 400 and raw.json_body == {
        "code": "invalid_json",
        "message": "the body is not valid JSON",
    }
    missing = post(client, "/v1/driver/quotes", {})
    assert missing.status_code == 400 and missing.json_body["code"] == "invalid_plate"
    no_quote = post(client, "/v1/driver/payments", {"quote_id": "q-missing", "amount_fen": 100})
    assert no_quote.status_code == 404 and no_quote.json_body["code"] == "quote_not_found"


def test_a_later_quote_subtracts_what_is_paid_and_the_grace_window_holds_the_price(client: Client) -> None:
    enter(minutes_ago=100)
    earlier = visit()
    # 750 fen paid for a quote priced 70 minutes into the stay
    earlier.update(
        actions=[
            Visit.paid_fen.set(750),
            Visit.paid_at.set(now() - timedelta(minutes=5)),
            Visit.priced_until.set(now() - timedelta(minutes=30)),
        ]
    )
    within_grace = quote(client)
    assert (within_grace["total_fen"], within_grace["paid_fen"], within_grace["due_fen"]) == (750, 750, 0)
    late = post(client, "/v1/driver/payments", {"quote_id": within_grace["quote_id"], "amount_fen": 0})
    assert late.status_code == 409 and late.json_body["code"] == "nothing_due"

    visit().update(actions=[Visit.paid_at.set(now() - timedelta(minutes=25))])  # grace (15 min) is over
    after_grace = quote(client)
    assert (after_grace["total_fen"], after_grace["paid_fen"], after_grace["due_fen"]) == (1000, 750, 250)
    assert (
        after_grace["tariff"]["tariff_id"] == "demo-small@demo-op" and after_grace["tariff"]["version"] == 1
    )
