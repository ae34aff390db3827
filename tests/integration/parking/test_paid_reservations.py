"""Paid reservations (issue 14, item 1; docs/identities.md): a lot charges a fee plus a prepaid
parking amount; the driver pays through the sandbox provider (its signed notification, delivered
twice, books once); the car enters in the window, its stay is priced by the tariff and the
prepaid pays first (it owes the rest, or the unused part is refunded automatically); a cancel
before the window refunds everything; the no-show job refunds the prepaid and keeps the fee."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from chalice.test import Client

from chalicelib.ledger.domain import postings as accounts
from chalicelib.parking import paid_reservations
from chalicelib.parking.models import Visit
from chalicelib.payments.models import Payment
from chalicelib.workflows.refund_models import Refund
from tests.integration.ledger.books import assert_books_hold, balance, postings_of
from tests.integration.parking.test_one_payable_amount import enter_at, leave_at
from tests.integration.payments.test_payments import PLATE, notify, now, post, quote
from tests.integration.workflows.refund_support import machine, provider
from tests.support.iot import Recorder
from tests.support.tokens import auth, staff

__all__ = ["provider"]
GUEST = "粤K77777"
FEE, PREPAID = 500, 600


def offer(client: Client, fee: int = FEE, prepaid: int = PREPAID) -> None:
    body = {"paid_reservation": {"fee_fen": fee, "prepaid_fen": prepaid}}
    answer = client.http.put("/v1/ops/lots/demo-lot/identity-options", body=_json(body), headers=staff())
    assert answer.status_code == 200, answer.body
    assert answer.json_body["paid_reservation"] == {"fee_fen": fee, "prepaid_fen": prepaid}


def _json(body: Any) -> str:
    import json

    return json.dumps(body)


def book(client: Client, plate: str, starts: timedelta, ends: timedelta, **more: Any) -> dict[str, Any]:
    body = {
        "lot_id": "demo-lot",
        "plate": plate,
        "starts": (now() + starts).isoformat(),
        "ends": (now() + ends).isoformat(),
        "paid": True,
        **more,
    }
    made = post(client, "/v1/driver/reservations", body)
    assert made.status_code == 201, made.body
    return dict(made.json_body)


def pay(client: Client, reservation_id: str, key: str) -> dict[str, Any]:
    paid = client.http.post(
        f"/v1/driver/reservations/{reservation_id}/payments",
        body=_json({"method": "sandbox"}),
        headers={**auth(), "Idempotency-Key": key},
    )
    assert paid.status_code == 201, paid.body
    return dict(paid.json_body)


def booked(client: Client, plate: str, starts: timedelta, ends: timedelta, key: str) -> tuple[str, str]:
    """A paid reservation, paid: (reservation id, payment id)."""
    made = book(client, plate, starts, ends)
    paid = pay(client, made["reservation_id"], key)
    payment_id = paid["payment"]["payment_id"]
    assert notify(client, payment_id, FEE + PREPAID, txn=f"txn-{key}").json_body["outcome"] == "applied"
    return made["reservation_id"], payment_id


def visit(plate: str = PLATE) -> Visit:
    return next(
        iter(Visit.query(f"demo-lot#{plate}", Visit.visit_id < "~", scan_index_forward=False, limit=1))
    )


def mine(client: Client, reservation_id: str, headers: dict[str, str] | None = None) -> Any:
    return client.http.get(f"/v1/driver/reservations/{reservation_id}", headers=headers or auth())


def refunded(payment_id: str) -> Refund:
    """The automatic refund of what the reservation owes back, opened by the sweep and paid."""
    from chalicelib.workflows import refund_tasks

    assert refund_tasks.sweep(now())["opened"] == 1
    refund = next(iter(Refund.by_subject.query(f"parking_payment:{payment_id}")))
    assert (refund.origin, refund.levels) == ("overpayment", [])
    assert machine(str(refund.refund_id))["status"] == "refunded"
    return Refund.get(refund.refund_id)


def test_booked_and_paid_once_then_the_car_owes_what_the_prepaid_does_not_cover(
    client: Client, published: Recorder
) -> None:
    offer(client)
    made = book(client, PLATE, -timedelta(hours=2), timedelta(hours=2))
    assert (made["status"], made["fee_fen"], made["prepaid_fen"], made["total_fen"]) == (
        "awaiting_payment",
        FEE,
        PREPAID,
        FEE + PREPAID,
    )
    rid = made["reservation_id"]
    first = pay(client, rid, "resv-0001")
    again = pay(client, rid, "resv-0001")  # the same key: the same payment
    payment_id = first["payment"]["payment_id"]
    assert again["payment"]["payment_id"] == payment_id and first["payment"]["purpose"] == "reservation"
    assert first["payment"]["amount_fen"] == FEE + PREPAID
    answers = [notify(client, payment_id, FEE + PREPAID, txn="txn-r1").json_body["outcome"] for _ in range(2)]
    assert answers == ["applied", "already_applied"]
    assert mine(client, rid).json_body["status"] == "paid"
    assert pay(client, rid, "resv-0001")["payment"]["status"] == "paid"  # a retry after it: the same
    other = client.http.post(
        f"/v1/driver/reservations/{rid}/payments", body=_json({"method": "sandbox"}), headers=auth()
    )
    assert other.status_code == 409 and other.json_body["code"] == "not_awaiting_payment"
    [paid] = [p for p in postings_of(accounts.reservation_subject(rid)) if p.kind == "reservation_paid"]
    assert {line.account: line.amount_fen for line in paid.lines} == {
        "provider_clearing:sandbox": FEE + PREPAID,
        "revenue:demo-op:parking": -FEE,
        f"reservation_prepaid:{rid}": -PREPAID,
    }
    # someone else sees nothing of it
    assert mine(client, rid, auth("someone-else")).status_code == 404
    assert client.http.get("/v1/driver/reservations", headers=auth("someone-else")).json_body["items"] == []

    enter_at(now() - timedelta(minutes=95))  # in the window: 1000 fen by the tariff
    assert (visit().prepaid_fen, visit().identity["free"]) == (PREPAID, False)
    assert visit().entry_remark.startswith("预约车辆入场 (单次通行证) (付费预约, 预付 6.00元)")
    exit_ = leave_at(now())
    assert (exit_["result"], exit_["due_fen"]) == ("payment_required", 1000 - PREPAID)
    q = quote(client)
    assert (q["total_fen"], q["prepaid_fen"], q["due_fen"]) == (1000, PREPAID, 1000 - PREPAID)
    created = post(client, "/v1/driver/payments", {"quote_id": q["quote_id"], "amount_fen": q["due_fen"]})
    assert notify(client, created.json_body["payment_id"], 1000 - PREPAID, txn="txn-r2").status_code == 200
    assert published.commands("demo-exit-cam", "open_gate")  # paid the rest: let out
    assert mine(client, rid).json_body["status"] == "used"
    assert balance(f"reservation_prepaid:{rid}") == 0  # all of it paid the visit
    assert int(Payment.get(payment_id).excess_fen or 0) == 0  # nothing to refund
    assert_books_hold()


def test_a_stay_below_the_prepaid_leaves_free_and_the_unused_part_is_refunded_automatically(
    client: Client, published: Recorder, machines: dict[str, str], provider: Any
) -> None:
    offer(client)
    rid, payment_id = booked(client, GUEST, -timedelta(hours=2), timedelta(hours=2), "resv-0002")
    entry = enter_at(now() - timedelta(minutes=35), GUEST)
    assert entry["result"] == "entered"
    assert leave_at(now(), GUEST)["result"] == "exited"  # its fee is within the prepaid
    fee = [p for p in postings_of(accounts.visit_subject(entry["visit_id"])) if p.kind == "visit_closed"]
    total = fee[0].memo["total_fen"]
    assert 0 < total < PREPAID
    seen = mine(client, rid).json_body
    assert (seen["status"], seen["owed_back_fen"]) == ("used", PREPAID - total)
    # the scheduled job's next run hands it to the payment (the gate writes no payments' table),
    # once
    handed = [paid_reservations.settle(now()) for _ in range(2)]
    assert [h["refunds"] for h in handed] == [1, 0]
    refund = refunded(payment_id)
    assert int(refund.amount_fen) == PREPAID - total
    assert list(provider.refunds) == [refund.refund_id]
    assert mine(client, rid).json_body["owed_back_fen"] == 0
    assert balance(accounts.refunds_payable(accounts.reservation_subject(rid))) == 0
    assert_books_hold()


def test_cancelled_before_its_window_fee_and_prepaid_are_refunded(
    client: Client, published: Recorder, machines: dict[str, str], provider: Any
) -> None:
    offer(client)
    rid, payment_id = booked(client, GUEST, timedelta(hours=1), timedelta(hours=3), "resv-0003")
    cancelled = client.http.post(f"/v1/driver/reservations/{rid}/cancel", headers=auth())
    assert cancelled.status_code == 200 and cancelled.json_body["status"] == "cancelled"
    assert cancelled.json_body["owed_back_fen"] == FEE + PREPAID
    again = client.http.post(f"/v1/driver/reservations/{rid}/cancel", headers=auth())
    assert again.status_code == 409 and again.json_body["code"] == "not_cancellable"
    # its pass is gone: the car is a temporary one
    assert enter_at(now() + timedelta(hours=1, minutes=5), GUEST)["result"] == "entered"
    refund = refunded(payment_id)
    assert int(refund.amount_fen) == FEE + PREPAID
    # one cancelled while its payment was at the provider: the money that comes is owed back whole
    late = book(client, GUEST, timedelta(hours=4), timedelta(hours=5))
    order = pay(client, late["reservation_id"], "resv-0007")["payment"]["payment_id"]
    assert (
        client.http.post(
            f"/v1/driver/reservations/{late['reservation_id']}/cancel", headers=auth()
        ).status_code
        == 200
    )
    assert notify(client, order, FEE + PREPAID, txn="txn-late").json_body["outcome"] == "applied"
    payment = Payment.get(order)
    assert (payment.status, int(payment.excess_fen), payment.overpaid_shard) == (
        "refund_due",
        FEE + PREPAID,
        "open",
    )
    assert mine(client, late["reservation_id"]).json_body["owed_back_fen"] == FEE + PREPAID
    assert_books_hold()


def test_the_no_show_job_refunds_the_prepaid_keeps_the_fee_once(
    client: Client, published: Recorder, monkeypatch: Any
) -> None:
    from pynamodb.connection.base import Connection

    offer(client)
    rid, payment_id = booked(client, GUEST, timedelta(minutes=10), timedelta(hours=1), "resv-0004")
    used, _ = booked(client, PLATE, timedelta(minutes=10), timedelta(hours=1), "resv-0005")
    enter_at(now(), "粤Z99999")  # the lot's configuration is cached now
    calls: list[str] = []
    real = Connection._make_api_call

    def counting(self: Connection, operation: str, kwargs: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(self, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    entry = enter_at(now() + timedelta(minutes=20))  # the second one's car came, on its pass
    assert entry["result"] == "entered" and sorted(calls) == ["Query", "TransactWriteItems"]
    monkeypatch.undo()
    later = now() + timedelta(hours=2)
    assert paid_reservations.settle(later) == {"no_show": 1, "entered": 1, "refunds": 0}
    assert paid_reservations.settle(later) == {"no_show": 0, "entered": 0, "refunds": 0}  # once
    seen = mine(client, rid).json_body
    assert (seen["status"], seen["owed_back_fen"]) == ("no_show", PREPAID)
    listed = client.http.get("/v1/ops/lots/demo-lot/reservations", headers=staff()).json_body["items"]
    assert {r["reservation_id"]: r["status"] for r in listed} == {rid: "no_show", used: "paid"}
    assert mine(client, used).json_body["status"] == "paid"  # its visit's close settles it
    payment = Payment.get(payment_id)
    assert (int(payment.excess_fen), payment.overpaid_shard) == (PREPAID, "open")
    assert balance("revenue:demo-op:parking") == -2 * FEE  # the fees are kept
    assert_books_hold()


def test_a_visit_closed_by_staff_uses_none_of_the_prepaid(client: Client, published: Recorder) -> None:
    offer(client)
    rid, payment_id = booked(client, GUEST, -timedelta(hours=2), timedelta(hours=2), "resv-0006")
    entry = enter_at(now() - timedelta(minutes=95), GUEST)
    closed = client.http.post(
        f"/v1/ops/lots/demo-lot/visits/{entry['visit_id']}/close",
        body=_json({"reason": "left without a capture"}),
        headers=staff(),
    )
    assert closed.status_code == 200, closed.body
    seen = mine(client, rid).json_body
    assert (seen["status"], seen["owed_back_fen"]) == ("used", PREPAID)
    assert paid_reservations.settle(now() + timedelta(minutes=2))["refunds"] == 1
    assert int(Payment.get(payment_id).excess_fen) == PREPAID
    assert_books_hold()
