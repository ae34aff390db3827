"""Refunds through the HTTP API and the refund machine's task handlers, on moto with the sandbox
provider's fake on loopback. The tests play the machine's part (tasks in the order of
refund.asl.json); people decide through the approval inbox's API, drivers read their refund."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.charging.models import ChargingSession
from chalicelib.ledger.domain import postings as accounts
from chalicelib.payments.models import Payment
from chalicelib.workflows.refund_models import Refund
from tests.integration.ledger.books import assert_books_hold, postings_of
from tests.integration.workflows.refund_support import (
    CS,
    DRIVER,
    FIN,
    OTHER_CS,
    PLAIN,
    completed_session,
    decide,
    machine,
    now,
    paid_twice,
    post,
    provider,
)
from tests.support.charger import FakeCharger
from tests.support.iot import Recorder
from tests.support.tokens import auth, staff

__all__ = ["provider"]


@pytest.fixture
def charger(client: Client, published: Recorder) -> FakeCharger:
    fake = FakeCharger(published)
    fake.boot(now())
    return fake


def ask_session(client: Client, session_id: str, amount: int, headers: dict[str, str] = DRIVER) -> Any:
    return post(
        client,
        f"/v1/driver/charging/sessions/{session_id}/refunds",
        headers,
        {"amount_fen": amount, "reason": "charged for energy I did not get"},
    )


def wallet(client: Client) -> int:
    return int(client.http.get("/v1/driver/wallet", headers=DRIVER).json_body["balance_fen"])


def mine(client: Client, refund_id: str) -> dict[str, Any]:
    answer = client.http.get(f"/v1/driver/refunds/{refund_id}", headers=DRIVER)
    assert answer.status_code == 200, answer.json_body
    return dict(answer.json_body)


def test_a_driver_request_reviewed_by_customer_service_and_finance_is_paid_to_the_wallet(
    client: Client, charger: FakeCharger, machines: dict[str, str], provider: Any
) -> None:
    session_id, total = completed_session(client, charger)
    before = wallet(client)
    asked = ask_session(client, session_id, total)
    assert asked.status_code == 202, asked.json_body
    refund_id = asked.json_body["refund_id"]
    assert (asked.json_body["status"], asked.json_body["refundable_fen"]) == ("reviewing", 0)
    assert ChargingSession.get(session_id).refund_requested_fen == total

    waiting = machine(refund_id)
    assert waiting["at"] == "wait" and waiting["level"] == 0
    inbox = client.http.get("/v1/ops/inbox", headers=CS).json_body["items"]
    assert [i["approval_id"] for i in inbox] == [refund_id]
    assert decide(client, refund_id, FIN, 0, "approve").status_code == 403  # not finance's level
    assert decide(client, refund_id, CS, 0, "approve", "the meter log shows it").status_code == 200
    waiting = machine(refund_id)
    assert waiting["at"] == "wait" and waiting["level"] == 1
    assert decide(client, refund_id, FIN, 1, "approve", "within policy").status_code == 200
    ended = machine(refund_id)
    assert ended["status"] == "refunded"

    assert wallet(client) == before + total
    session = ChargingSession.get(session_id)
    assert (session.refunded_fen, session.refund_requested_fen) == (int(session.prepaid_fen), 0)
    booked = [p for p in postings_of(accounts.session_subject(session_id)) if p.kind == "refund"]
    assert [p.posting_id for p in booked] == [f"refund:{refund_id}"]
    assert booked[0].amount_on(accounts.wallet("demo-driver")) == -total
    shown = mine(client, refund_id)
    assert (shown["status"], shown["amount_fen"], shown["refunded_fen"]) == ("refunded", total, total)
    assert shown["execution_name"] == refund_id
    reviews = [s for s in shown["steps"] if s["review"]]
    assert [(s["by"], s["state"], s["note"]) for s in reviews] == [
        ("cs-1", "approved", "the meter log shows it"),
        ("fin-1", "approved", "within policy"),
    ]
    assert [n["state"] for n in shown["notifications"]] == ["refunded"]
    # the task run again (a retried Lambda) pays nothing twice
    from chalicelib.workflows import refund_tasks

    assert refund_tasks.pay({"approval_id": refund_id}, now())["status"] == "refunded"
    assert wallet(client) == before + total
    listed = client.http.get("/v1/driver/refunds", headers=DRIVER).json_body["refunds"]
    assert [(r["refund_id"], r["status"]) for r in listed] == [(refund_id, "refunded")]
    assert_books_hold()


def test_rejected_at_the_first_level_releases_the_amount_and_tells_the_driver_why(
    client: Client, charger: FakeCharger, machines: dict[str, str]
) -> None:
    session_id, total = completed_session(client, charger)
    refund_id = ask_session(client, session_id, total).json_body["refund_id"]
    machine(refund_id)
    assert (
        decide(client, refund_id, CS, 0, "reject", "the charger log shows a full charge").status_code == 200
    )
    ended = machine(refund_id)
    assert ended["status"] == "rejected"
    assert ChargingSession.get(session_id).refund_requested_fen == 0
    shown = mine(client, refund_id)
    assert shown["status"] == "rejected" and shown["refunded_fen"] == 0
    assert "the charger log shows a full charge" in shown["notifications"][0]["text"]
    again = ask_session(client, session_id, total)  # released: refundable again
    assert again.status_code == 202 and again.json_body["refundable_fen"] == 0
    assert_books_hold()


def test_never_above_refundable_and_two_requests_together_the_second_is_refused_for_the_excess(
    client: Client, charger: FakeCharger, machines: dict[str, str]
) -> None:
    session_id, total = completed_session(client, charger)
    too_much = ask_session(client, session_id, total + 1)
    assert too_much.status_code == 422 and too_much.json_body["code"] == "amount_too_high"
    first = ask_session(client, session_id, total - 100)
    assert first.status_code == 202 and first.json_body["refundable_fen"] == 100
    second = ask_session(client, session_id, 200)
    assert second.status_code == 422 and second.json_body["code"] == "amount_too_high"
    assert "at most 100 fen" in second.json_body["message"]
    assert ask_session(client, session_id, 100).status_code == 202
    assert ChargingSession.get(session_id).refund_requested_fen == total
    assert ask_session(client, "no-such-session", 1).status_code == 404
    other = ask_session(client, session_id, 1, headers=auth("someone-else", ["driver"]))
    assert other.status_code == 404
    listed = client.http.get("/v1/ops/charging/refund-requests", headers=CS).json_body["refund_requests"]
    assert sorted(r["amount_fen"] for r in listed) == sorted([total - 100, 100])
    assert client.http.get("/v1/ops/charging/refund-requests", headers=OTHER_CS).json_body == {
        "refund_requests": []
    }
    assert_books_hold()


def test_a_parking_refund_goes_back_through_the_provider_retried_while_it_is_down(
    client: Client, machines: dict[str, str], provider: Any
) -> None:
    first, _, fee = paid_twice(client)
    asked = post(client, f"/v1/driver/parking/payments/{first}/refunds", DRIVER, {"amount_fen": fee})
    assert asked.status_code == 202, asked.json_body
    refund_id = asked.json_body["refund_id"]
    assert asked.json_body["levels"] == ["customer_service", "finance"]
    machine(refund_id)
    assert decide(client, refund_id, CS, 0, "approve", "double charge").status_code == 200
    machine(refund_id)
    assert decide(client, refund_id, FIN, 1, "approve").status_code == 200
    provider.fail_next_refunds = 2
    ended = machine(refund_id)
    assert (ended["status"], ended["attempts"]) == ("refunded", 3)
    assert provider.refund_calls == 3
    assert list(provider.refunds) == [refund_id]  # the refund id is the provider's refund number
    payment = Payment.get(first)
    assert (payment.refunded_fen, payment.refund_in_flight_fen) == (fee, 0)
    refund = Refund.get(refund_id)
    assert refund.provider_refund_id == provider.refunds[refund_id]["refund_id"]
    assert_books_hold()


def test_a_provider_that_keeps_failing_ends_failed_for_finance_who_retries_it(
    client: Client, machines: dict[str, str], provider: Any
) -> None:
    first, _, _ = paid_twice(client)
    refund_id = post(
        client, f"/v1/driver/parking/payments/{first}/refunds", DRIVER, {"amount_fen": 100}
    ).json_body["refund_id"]
    machine(refund_id)
    decide(client, refund_id, CS, 0, "approve")
    machine(refund_id)
    decide(client, refund_id, FIN, 1, "approve")
    provider.fail_next_refunds = 100
    ended = machine(refund_id)
    assert (ended["at"], ended["status"], ended["attempts"]) == ("failed", "failed", 4)
    failed = client.http.get("/v1/ops/refunds?status=failed", headers=FIN).json_body["refunds"]
    assert [(r["refund_id"], r["status"]) for r in failed] == [(refund_id, "failed")]
    assert "ProviderUnavailable" in (failed[0]["failure"] or "")
    assert client.http.get("/v1/ops/refunds?status=failed", headers=PLAIN).status_code == 403
    assert Payment.get(first).refund_in_flight_fen == 100  # still reserved: nothing can spend it
    assert mine(client, refund_id)["notifications"][0]["state"] == "failed"

    assert post(client, f"/v1/ops/refunds/{refund_id}/retry", CS).status_code == 403
    provider.fail_next_refunds = 0
    retried = post(client, f"/v1/ops/refunds/{refund_id}/retry", FIN)
    assert retried.status_code == 202, retried.json_body
    assert (retried.json_body["status"], retried.json_body["execution_name"]) == ("paying", f"{refund_id}.1")
    assert machine(refund_id)["status"] == "refunded"
    assert client.http.get("/v1/ops/refunds?status=failed", headers=FIN).json_body["refunds"] == []
    again = post(client, f"/v1/ops/refunds/{refund_id}/retry", FIN)
    assert again.status_code == 409 and again.json_body["code"] == "not_failed"
    assert_books_hold()


def test_an_overpayment_is_refunded_automatically_without_a_person_once(
    client: Client, machines: dict[str, str], provider: Any
) -> None:
    from chalicelib.workflows import refund_tasks

    _, second, fee = paid_twice(client)
    assert refund_tasks.sweep(now()) == {"opened": 1, "skipped": 0, "started": 0}
    assert refund_tasks.sweep(now()) == {"opened": 0, "skipped": 0, "started": 0}  # never twice
    refund = next(iter(Refund.by_subject.query(f"parking_payment:{second}")))
    assert (refund.origin, refund.levels, refund.amount_fen) == ("overpayment", [], fee)
    ended = machine(str(refund.refund_id))
    assert ended["status"] == "refunded"
    from tests.integration.payments.test_payments import visit

    assert visit().overpaid_fen == 0  # the obligation is paid back
    booked = [p for p in postings_of(accounts.visit_subject(visit().visit_id)) if p.kind == "refund"]
    assert booked[0].amount_on(accounts.refunds_payable(accounts.visit_subject(visit().visit_id))) == fee
    assert client.http.get("/v1/ops/lots/demo-lot/obligations", headers=CS).json_body["obligations"] == []
    assert_books_hold()


def test_customer_service_opens_one_on_a_complaint_for_its_own_operator_only(
    client: Client, charger: FakeCharger, machines: dict[str, str], provider: Any
) -> None:
    session_id, _ = completed_session(client, charger)
    body = {
        "subject_kind": "charging_session",
        "subject_id": session_id,
        "amount_fen": 500,
        "reason": "complaint #12",
    }
    assert post(client, "/v1/ops/refunds", OTHER_CS, body).status_code == 404
    assert post(client, "/v1/ops/refunds", FIN, body).status_code == 403
    opened = post(client, "/v1/ops/refunds", CS, body)
    assert opened.status_code == 202, opened.json_body
    assert opened.json_body["levels"] == ["finance"] and opened.json_body["origin"] == "complaint"
    refund_id = opened.json_body["refund_id"]
    assert machine(refund_id)["level"] == 0
    assert decide(client, refund_id, FIN, 0, "approve").status_code == 200
    assert machine(refund_id)["status"] == "refunded"
    assert mine(client, refund_id)["refunded_fen"] == 500  # the driver sees it too
    assert client.http.get(f"/v1/ops/refunds/{refund_id}", headers=OTHER_CS).status_code == 404
    assert_books_hold()


def test_the_operators_policy_lets_small_refunds_skip_finance(
    client: Client, charger: FakeCharger, machines: dict[str, str]
) -> None:
    admin = staff("demo-op", "admin-1", roles=("ops_admin",))
    assert (
        client.http.put("/v1/ops/refund-policy", headers=CS, body='{"finance_above_fen": 1000}').status_code
        == 403
    )
    put = client.http.put("/v1/ops/refund-policy", headers=admin, body='{"finance_above_fen": 1000}')
    assert put.status_code == 200 and put.json_body["finance_above_fen"] == 1000
    session_id, _ = completed_session(client, charger)
    small = ask_session(client, session_id, 1000).json_body["refund_id"]
    large = ask_session(client, session_id, 1001).json_body["refund_id"]
    assert Refund.get(small).levels == ["customer_service"]
    assert Refund.get(large).levels == ["customer_service", "finance"]


def test_a_refund_whose_execution_did_not_start_is_started_by_the_sweep(
    client: Client, charger: FakeCharger, machines: dict[str, str]
) -> None:
    from botocore.stub import Stubber

    from chalicelib.workflows import refund_tasks, sfn

    session_id, total = completed_session(client, charger)
    with Stubber(sfn.client()) as stub:
        stub.add_client_error("start_execution", "ServiceUnavailable", "try later", 503)
        asked = ask_session(client, session_id, total)
    assert asked.status_code == 202 and asked.json_body["status"] == "requested"
    refund_id = asked.json_body["refund_id"]
    assert refund_tasks.sweep(now())["started"] == 0  # within its first minute: left alone
    assert refund_tasks.sweep(now() + timedelta(minutes=2))["started"] == 1
    refund = Refund.get(refund_id)
    assert (refund.status, refund.start_pending) == ("reviewing", None)
    assert mine(client, refund_id)["execution_name"] == refund_id
    assert refund_tasks.sweep(now() + timedelta(minutes=3))["started"] == 0
