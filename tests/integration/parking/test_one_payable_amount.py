"""One payable amount per visit (domain.md §2.2), through the public API: a new quote supersedes
the unpaid ones, money a provider took for a superseded or expired order is still booked (what
the visit owes, the rest an open refund obligation), and the grace window starts from a payment
only when it arrived while its quote was valid."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.ledger.domain import postings as accounts
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, INSIDE
from chalicelib.payments.models import CLOSED, PAID, REFUND_DUE, Payment
from tests.integration.ledger.books import assert_books_hold, balance
from tests.integration.payments.test_payments import ENTRY, EXIT, PLATE, notify, now, post, quote, visit
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import staff


def enter_at(at: datetime, plate: str = PLATE) -> dict[str, Any]:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), at)


def leave_at(at: datetime, plate: str = PLATE) -> dict[str, Any]:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


def pay(client: Client, q: dict[str, Any]) -> str:
    created = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": q["due_fen"]})
    assert created.status_code == 201, created.body
    return str(created.json_body["payment_id"])


@pytest.fixture
def later(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Move the API's clock (the edges read it once per request)."""

    def move(minutes: int) -> None:
        at = now() + timedelta(minutes=minutes)
        for module in ("chalicelib.payments.api", "chalicelib.parking.api"):
            monkeypatch.setattr(f"{module}.now", lambda: at)

    return move


def test_four_quotes_each_paid_keep_one_fee_and_owe_the_rest_back(
    client: Client, published: Recorder
) -> None:
    """Defect 1: four quotes, each with its order created before the next quote, all paid at the
    provider: the visit is paid its 250 once, 750 is an open obligation, the books hold."""
    enter_at(now() - timedelta(minutes=10))
    payments = []
    for _ in range(4):
        q = quote(client)
        assert q["due_fen"] == 250
        payments.append(pay(client, q))
    assert [Payment.get(p).status for p in payments] == [CLOSED, CLOSED, CLOSED, "pending"]
    for n, payment_id in enumerate(payments):
        assert notify(client, payment_id, 250, txn=f"txn-{n}").status_code == 200
    paid = visit()
    assert (paid.paid_fen, paid.overpaid_fen) == (250, 750)
    # the first paid the fee; the others are booked with all their money owed back
    assert [Payment.get(p).status for p in payments] == [PAID, REFUND_DUE, REFUND_DUE, REFUND_DUE]
    subject = accounts.visit_subject(paid.visit_id)
    assert balance(accounts.refunds_payable(subject)) == -750
    assert balance(accounts.provider_clearing("sandbox")) == 1000
    assert leave_at(now())["result"] == "exited"
    assert_books_hold()
    owed = client.http.get("/v1/ops/lots/demo-lot/obligations", headers=staff()).json_body
    assert owed["obligations"] == [{"subject": subject, "amount_fen": 750, "status": "open"}]


def test_a_superseded_quote_cannot_be_paid_through_the_api(client: Client) -> None:
    enter_at(now() - timedelta(minutes=10))
    quotes = [quote(client) for _ in range(4)]
    for old in quotes[:3]:
        response = post(client, "/v1/driver/payments", {"quote_id": old["quote_id"], "amount_fen": 250})
        assert response.status_code == 409 and response.json_body["code"] == "quote_superseded"
    payment_id = pay(client, quotes[3])
    assert notify(client, payment_id, 250).status_code == 200
    assert (visit().paid_fen, visit().overpaid_fen) == (250, 0)
    assert_books_hold()


def test_two_quotes_one_after_the_other_both_paid(client: Client, published: Recorder) -> None:
    """Defect 1, sequential: 500 paid for a 250 fee keeps 250 and owes 250 back; the exit opens
    and staff see the obligation in the visit's postings."""
    enter_at(now() - timedelta(minutes=10))
    first = pay(client, quote(client))
    second = pay(client, quote(client))
    assert notify(client, first, 250, txn="txn-a").status_code == 200
    assert notify(client, second, 250, txn="txn-b").status_code == 200
    v = visit()
    assert (v.paid_fen, v.overpaid_fen) == (250, 250)
    assert leave_at(now())["result"] == "exited"
    shown = client.http.get(f"/v1/ops/lots/demo-lot/visits/{v.visit_id}/postings", headers=staff()).json_body
    assert [p["kind"] for p in shown["postings"]] == ["parking_payment", "parking_payment", "visit_closed"]
    assert {
        "account": accounts.refunds_payable(accounts.visit_subject(v.visit_id)),
        "amount_fen": -250,
    } in shown["balances"]
    assert_books_hold()


def test_a_stale_quote_paid_an_hour_later_does_not_let_the_car_out_nearly_free(
    client: Client, published: Recorder, later: Any
) -> None:
    """Defect 2: the order was created on a valid quote and completed at the provider an hour
    later. The money counts for its amount, the grace window does not start, the exit owes the
    rest of the 70-minute stay."""
    enter_at(now() - timedelta(minutes=10))
    q = quote(client)
    payment_id = pay(client, q)
    later(60)
    assert notify(client, payment_id, 250).status_code == 200
    stored = Payment.get(payment_id)
    assert stored.on_time is False and stored.applied_fen == 250
    v = visit()
    assert v.paid_fen == 250 and v.paid_at is None and v.status == INSIDE
    exit_now = now() + timedelta(minutes=61)
    result = leave_at(exit_now)
    assert result["result"] == "payment_required" and result["due_fen"] == 750 - 250
    assert_books_hold()


def test_a_payment_inside_its_quote_starts_the_grace_window(client: Client, published: Recorder) -> None:
    enter_at(now() - timedelta(minutes=10))
    payment_id = pay(client, quote(client))
    assert notify(client, payment_id, 250).status_code == 200
    assert Payment.get(payment_id).on_time is True
    assert leave_at(now() + timedelta(minutes=14))["result"] == "exited"  # 24 min stay priced to the quote
    assert visit().status == EXITED
    assert_books_hold()


def test_a_notification_after_the_car_left_is_booked_as_an_obligation(
    client: Client, published: Recorder, later: Any
) -> None:
    enter_at(now() - timedelta(minutes=10))
    payment_id = pay(client, quote(client))
    # the cashier's own payment settled it meanwhile: here the second, newer order
    second = pay(client, quote(client))
    assert notify(client, second, 250, txn="txn-b").status_code == 200
    assert leave_at(now() + timedelta(minutes=1))["result"] == "exited"
    later(30)
    assert notify(client, payment_id, 250, txn="txn-a").status_code == 200
    v = visit()
    assert (v.status, v.paid_fen, v.overpaid_fen) == (EXITED, 250, 250)
    assert_books_hold()


def test_four_quotes_taken_concurrently_and_all_paid(client: Client, published: Recorder) -> None:
    """Defect 1, concurrently (the use cases in threads; HTTP requests share the app's current
    request): whichever orders got created, all their money is booked, the visit keeps its fee
    once and the rest is owed back."""
    from concurrent.futures import ThreadPoolExecutor

    from chalicelib.parking import quotes
    from chalicelib.payments import orders
    from chalicelib.payments.contract import PaymentIn
    from chalicelib.shared.errors import DomainError

    enter_at(now() - timedelta(minutes=10))
    at = now()

    def take_and_order(_: int) -> str | None:
        q = quotes.create("demo-driver", PLATE, "demo-lot", at)
        try:
            asked = PaymentIn(quote_id=q.quote_id, amount_fen=int(q.due_fen))
            return orders.create("demo-driver", asked, at).payment.payment_id
        except DomainError:
            return None  # superseded before its order was created

    with ThreadPoolExecutor(max_workers=4) as pool:
        created = [p for p in pool.map(take_and_order, range(4)) if p is not None]
    assert created
    for n, payment_id in enumerate(created):
        assert notify(client, payment_id, 250, txn=f"txn-{n}").status_code == 200
    v = visit()
    assert (v.paid_fen, v.overpaid_fen) == (250, 250 * (len(created) - 1))
    assert leave_at(now())["result"] == "exited"
    assert_books_hold()
