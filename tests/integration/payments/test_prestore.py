"""Prestore and no-sense pay through the HTTP routes and the real gate handler (moto): a third
party's prestore with the owner's auto-pay on pays the fee at the exit, in the exit's transaction,
and the barrier opens; too little prestore leaves the car to pay as usual; no-sense pay opens and
books the bank debit; a car that paid in the lot is not debited; the books stay balanced."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

from chalice.test import Client

from chalicelib.ledger import checks
from chalicelib.ledger.journal import get, scan_all
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, Visit
from chalicelib.payments.prestore import PlateFunds
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth, staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"  # demo-driver's plate
FINANCE = staff("demo-op", "third-party-x", roles=("finance",))
CASHIER = staff("demo-op", "cashier-li", roles=("cashier",))
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=8)


def enter(at: datetime, plate: str = PLATE) -> None:
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), at)


def leave(at: datetime, plate: str = PLATE) -> dict[str, Any]:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


def latest(plate: str = PLATE) -> Visit:
    return next(
        iter(Visit.query(f"demo-lot#{plate}", scan_index_forward=False, limit=1, consistent_read=True))
    )


def put(client: Client, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return client.http.put(path, headers=headers, body=json.dumps(body))


def prestore(client: Client, amount: int, mode: str = "deposit") -> Any:
    answer = put(
        client,
        "/v1/ops/lots/demo-lot/prestore",
        {"plate": PLATE, "amount_fen": amount, "mode": mode},
        FINANCE,
    )
    assert answer.status_code == 200, answer.body
    return answer.json_body


def plate_pay(client: Client, auto_pay: bool = False, no_sense: bool = False) -> None:
    answer = put(
        client, "/v1/driver/plate-pay", {"plate": PLATE, "auto_pay": auto_pay, "no_sense": no_sense}, auth()
    )
    assert answer.status_code == 200, answer.body


def test_prestore_with_auto_pay_opens_the_exit_and_books_the_debit(
    client: Client, published: Recorder
) -> None:
    assert prestore(client, 1000)["balance_fen"] == 1000
    assert prestore(client, 1000)["balance_fen"] == 2000  # a second deposit adds
    plate_pay(client, auto_pay=True)

    enter(T0)
    outcome = leave(T0 + timedelta(hours=2))
    assert outcome["result"] == "exited", outcome
    visit = latest()
    fee = int(visit.total_fen)
    assert visit.status == EXITED and fee > 0 and int(visit.paid_fen) == fee
    opened = published.commands(EXIT, "open_gate")
    assert [c["visit_id"] for c in opened] == [visit.visit_id]
    debit = get(f"pay:prestore-{visit.visit_id}")
    assert debit is not None and debit.kind == "parking_payment"
    assert debit.amount_on(f"prestore:demo-lot:{PLATE}") == fee and debit.memo["method"] == "prestore"
    assert prestore(client, 0)["balance_fen"] == 2000 - fee
    assert checks.run() == []

    # Overwritten by the third party with less than the next stay costs: the car pays as usual.
    assert prestore(client, 100, mode="set")["balance_fen"] == 100
    enter(T0 + timedelta(hours=3))
    assert leave(T0 + timedelta(hours=5))["result"] == "payment_required"
    assert prestore(client, 0)["balance_fen"] == 100
    held = -sum(
        line.amount_fen
        for p in scan_all()
        for line in p.lines
        if line.account == f"prestore:demo-lot:{PLATE}"
    )
    assert held == 100  # the journal holds exactly the balance
    assert checks.run() == []
    # The books' check compares each prestore balance with its account: a balance changed
    # without its posting is reported.
    PlateFunds(PLATE, "lot#demo-lot").update(actions=[PlateFunds.balance_fen.set(150)])
    assert [(b.rule, b.subject) for b in checks.run()] == [("held_mismatch", f"prestore:demo-lot:{PLATE}")]
    PlateFunds(PLATE, "lot#demo-lot").update(actions=[PlateFunds.balance_fen.set(100)])

    day = (T0 + timedelta(hours=2)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    records = client.http.get(f"/v1/ops/lots/demo-lot/payment-records?day={day}", headers=FINANCE).json_body
    assert {(r["method"], r["source"], r["amount_fen"]) for r in records["payments"]} >= {
        ("prestore", "device", fee)
    }


def test_no_sense_pay_opens_the_exit_and_books_the_debit_but_a_car_that_paid_is_not_debited(
    client: Client, published: Recorder
) -> None:
    plate_pay(client, no_sense=True)
    enter(T0)
    assert leave(T0 + timedelta(hours=2))["result"] == "exited"
    visit = latest()
    debit = get(f"pay:no_sense-{visit.visit_id}")
    assert debit is not None and debit.amount_on("provider_clearing:no_sense") == int(visit.total_fen) > 0
    assert debit.memo["debit"] == "after_exit"

    # Paid at the booth while inside: nothing is due at the exit, so nothing is debited.
    enter(T0 + timedelta(hours=3))
    inside = latest()
    assert client.http.post("/v1/ops/lots/demo-lot/shifts", headers=CASHIER).status_code == 201
    with mock.patch("chalicelib.parking.ops_api.now", return_value=T0 + timedelta(hours=5)):
        paid = client.http.post(
            f"/v1/ops/lots/demo-lot/visits/{inside.visit_id}/cash",
            headers=CASHIER,
            body=json.dumps({"tendered_fen": 100_000}),
        )
    assert paid.status_code == 200, paid.body
    assert leave(T0 + timedelta(hours=5, minutes=5))["result"] == "exited"
    assert get(f"pay:no_sense-{inside.visit_id}") is None
    assert checks.run() == []


def test_only_the_plates_owner_sets_its_auto_pay(client: Client) -> None:
    answer = put(client, "/v1/driver/plate-pay", {"plate": PLATE, "auto_pay": True}, auth("demo-driver-2"))
    assert answer.status_code == 403 and answer.json_body["code"] == "not_your_plate"
