"""A car the automatic arrears blacklist refuses pays its arrears at the booth (docs/booth.md,
docs/identities.md), through the HTTP routes and the real gate handlers on moto: the arrears
are gone, the automatic entry is lifted (a staff entry stays), the earlier visits' receivables
end at zero, the shift counts the cash, and a repeat is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from chalice.test import Client

from chalicelib.ledger import journal
from chalicelib.parking import arrears, identities
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import Visit
from tests.integration.ledger.books import assert_books_hold
from tests.support.iot import capture, iot_event
from tests.support.tokens import auth, staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
LOT = "/v1/ops/lots/demo-lot"
ADMIN = staff()
CASHIER = staff("demo-op", "cashier-zhao", roles=("cashier",))
T0 = datetime.now(UTC).replace(microsecond=0)


def enter(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), at)


def leave(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


def call(client: Client, method: str, path: str, body: Any = None, headers: dict[str, str] = ADMIN) -> Any:
    response = getattr(client.http, method)(
        path, headers=headers, body=json.dumps(body) if body is not None else None
    )
    return response.status_code, (response.json_body if response.body else None)


def arrears_path(plate: str) -> str:
    return f"{LOT}/plates/{quote(plate)}/arrears"


def latest(plate: str) -> Visit:
    return max(Visit.query(f"demo-lot#{plate}", Visit.visit_id < "~"), key=lambda v: v.visit_id)


def unpaid_exits(client: Client, plate: str, n: int, blacklist_after: int) -> list[str]:
    """`n` open-gate exits of 20 minutes each (2.50 yuan owed each)."""
    options = {"open_gate": True, "arrears_blacklist_after": blacklist_after}
    assert call(client, "put", f"{LOT}/identity-options", options)[0] == 200
    visits = []
    for k in range(n):
        enter(plate, T0 + timedelta(hours=k))
        assert leave(plate, T0 + timedelta(hours=k, minutes=20))["result"] == "exited"
        visits.append(latest(plate).visit_id)
    assert call(client, "put", f"{LOT}/identity-options", {"open_gate": False})[0] == 200
    return visits


def receivable(visit_id: str) -> int:
    account = f"visit:{visit_id}"
    return sum(p.amount_on(account) for p in journal.scan_all())


def test_a_blacklisted_car_pays_its_arrears_at_the_booth_and_enters_again(client: Client) -> None:
    plate = "粤B70707"
    first, second = unpaid_exits(client, plate, 2, blacklist_after=2)
    assert enter(plate, T0 + timedelta(hours=3))["result"] == "refused"
    status, owed = call(client, "get", arrears_path(plate), headers=CASHIER)
    assert status == 200, owed
    assert owed["arrears_fen"] == 500 and owed["auto_blacklisted"] is True
    assert owed["visits"] == [{"visit_id": first, "amount_fen": 250}, {"visit_id": second, "amount_fen": 250}]
    assert receivable(first) == 250 and receivable(second) == 250

    # no open shift: refused, nothing written
    status, refused = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 1000}, CASHIER)
    assert (status, refused["code"]) == (409, "no_open_shift")
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201

    status, paid = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 1000}, CASHIER)
    assert status == 200, paid
    assert (paid["tendered_fen"], paid["amount_fen"], paid["change_fen"]) == (1000, 500, 500)
    assert [v["visit_id"] for v in paid["visits"]] == [first, second] and len(paid["lifted"]) == 1

    # arrears gone, automatic blacklist lifted, the earlier visits settled in the journal
    status, owed = call(client, "get", arrears_path(plate), headers=CASHIER)
    assert (owed["arrears_fen"], owed["visits"], owed["auto_blacklisted"]) == (0, [], False)
    assert call(client, "get", f"{LOT}/lists")[1]["items"] == []
    assert receivable(first) == 0 and receivable(second) == 0
    assert_books_hold()

    # the next entry is a temporary car with no arrears note
    assert enter(plate, T0 + timedelta(hours=4))["result"] == "entered"
    now_inside = latest(plate)
    assert now_inside.identity["kind"] == "temporary" and now_inside.arrears_fen == 0
    assert "欠费" not in now_inside.entry_remark

    # a repeat finds nothing owed and writes nothing
    before = len(list(journal.scan_all()))
    status, again = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 1000}, CASHIER)
    assert (status, again["code"]) == (409, "no_arrears")
    assert len(list(journal.scan_all())) == before

    # the day's payment records and the shift's close count it
    day = journal.local_day(datetime.now(UTC), "Asia/Shanghai")
    status, records = call(client, "get", f"{LOT}/payment-records?day={day}")
    assert status == 200, records
    assert [(r["visit_id"], r["amount_fen"], r["method"]) for r in records["payments"]] == [
        (first, 250, "cash"),
        (second, 250, "cash"),
    ]
    status, closed = call(client, "post", f"{LOT}/shifts/current/close", headers=CASHIER)
    assert status == 200, closed
    assert (closed["payments"], closed["cash_fen"], closed["tendered_fen"], closed["change_fen"]) == (
        1,
        500,
        1000,
        500,
    )
    cash = sum(
        p.amount_on("provider_clearing:cash")
        for p in journal.scan_all()
        if p.memo.get("shift_id") == closed["shift_id"]
    )
    assert cash == closed["total_cash_fen"] == 500
    status, entries = call(
        client, "get", f"/v1/ops/audit?object_type=plate&object_id=demo-lot/{quote(plate)}"
    )
    assert status == 200 and [e["action"] for e in entries["entries"]] == ["arrears_cash"]


def test_arrears_are_taken_whole_and_a_staff_blacklist_entry_stays(client: Client) -> None:
    plate = "粤B80808"
    unpaid_exits(client, plate, 1, blacklist_after=1)
    status, manual = call(client, "post", f"{LOT}/lists", {"plate": plate, "kind": "black", "reason": "逃费"})
    assert status == 201
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201

    status, short = call(client, "post", f"{arrears_path(plate)}/cash", {"amount_fen": 100}, CASHIER)
    assert (status, short["code"]) == (409, "arrears_not_covered")
    status, paid = call(client, "post", f"{arrears_path(plate)}/cash", {"amount_fen": 250}, CASHIER)
    assert status == 200, paid
    assert paid["change_fen"] == 0
    items = call(client, "get", f"{LOT}/lists")[1]["items"]
    assert [i["id"] for i in items] == [manual["id"]]
    assert enter(plate, T0 + timedelta(hours=2))["result"] == "refused"  # staff's entry still holds
    assert_books_hold()


def test_a_car_inside_pays_its_arrears_with_its_visit(client: Client) -> None:
    plate = "粤B90909"
    unpaid_exits(client, plate, 1, blacklist_after=0)
    assert enter(plate, T0 + timedelta(hours=2))["result"] == "entered"
    assert latest(plate).arrears_fen == 250
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201
    status, refused = call(client, "post", f"{arrears_path(plate)}/cash", {"amount_fen": 250}, CASHIER)
    assert (status, refused["code"]) == (409, "arrears_on_visit")


def test_the_driver_sees_a_bound_plates_arrears(client: Client) -> None:
    plate = "粤B60606"
    driver = auth("arrears-driver")
    assert call(client, "post", "/v1/driver/plates", {"plate": plate}, driver)[0] in (200, 201)
    [unpaid] = unpaid_exits(client, plate, 1, blacklist_after=1)
    path = f"/v1/driver/arrears?lot_id=demo-lot&plate={quote(plate)}"
    status, owed = call(client, "get", path, headers=driver)
    assert status == 200, owed
    assert owed["visits"] == [{"visit_id": unpaid, "amount_fen": 250}] and owed["auto_blacklisted"]
    status, other = call(client, "get", path, headers=auth("someone-else"))
    assert (status, other["code"]) == (403, "not_your_plate")


def test_an_abnormal_release_as_arrears_leaves_the_rest_owed_by_the_plate(client: Client) -> None:
    """Staff let a car out that cannot pay (异常放行, 欠费): what the cash leaves of the fee is the
    plate's arrears, not waived, owed like an open-gate exit's (here the booth takes it)."""
    plate = "粤B70808"
    assert enter(plate, datetime.now(UTC) - timedelta(minutes=40))["result"] == "entered"
    visit = latest(plate)
    body = {"visit_id": visit.visit_id, "amount_fen": 100, "reason": "车主现金不足", "as_arrears": True}
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201
    status, done = call(client, "post", f"{LOT}/lanes/exit-1/release", body, CASHIER)
    assert (status, done["result"]) == (200, "released"), done
    released = latest(plate)
    fee = int(released.total_fen)
    assert fee > 100 and int(released.paid_fen) == 100
    status, owed = call(client, "get", arrears_path(plate), headers=CASHIER)
    assert owed["visits"] == [{"visit_id": visit.visit_id, "amount_fen": fee - 100}]
    assert receivable(visit.visit_id) == fee - 100  # left on the visit's receivable, not waived
    assert_books_hold()

    # the booth takes it (the car is not inside, so no visit carries it yet)
    status, paid = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 5000}, CASHIER)
    assert status == 200 and paid["amount_fen"] == fee - 100, paid
    assert receivable(visit.visit_id) == 0
    assert_books_hold()


def test_an_entry_between_the_booths_read_and_write_keeps_the_arrears_on_its_visit(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The car enters while the cashier's payment is being written: the entry carries the
    arrears (its fee pays them), so the booth's write is refused and it answers as for a car
    inside: the arrears are not taken twice."""
    plate = "粤B70909"
    [owing] = unpaid_exits(client, plate, 1, blacklist_after=0)
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201
    real_read = arrears._read
    entered: list[dict[str, Any]] = []

    def read_then_enter(lot_id: str, plate_read: str) -> Any:
        found = real_read(lot_id, plate_read)
        if not entered:  # the car comes in after the booth read the arrears
            entered.append(enter(plate, T0 + timedelta(hours=5)))
        return found

    monkeypatch.setattr(arrears, "_read", read_then_enter)
    status, refused = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 1000}, CASHIER)
    assert entered[0]["result"] == "entered"
    assert (status, refused["code"]) == (409, "arrears_on_visit"), refused
    assert latest(plate).arrears_fen == 250 and receivable(owing) == 250
    assert_books_hold()


def test_an_arrears_payment_between_the_entrys_read_and_write_leaves_the_new_visit_owing_none(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cashier takes the arrears while the car's entry is being decided: the entry read
    them, but it is written only while they are as read, so it decides again and the new visit
    does not carry arrears that are already paid."""
    plate = "粤B71010"
    [owing] = unpaid_exits(client, plate, 1, blacklist_after=0)
    assert call(client, "post", f"{LOT}/shifts", headers=CASHIER)[0] == 201
    real_lookup = identities.lookup
    paid: list[Any] = []

    def lookup_then_pay(lot_id: str, plate_read: str, limit: int = 3) -> Any:
        found = real_lookup(lot_id, plate_read, limit)
        if limit == 1 and not paid and plate_read == plate:  # the gate's read, not the booth's
            paid.append(None)
            answer = call(client, "post", f"{arrears_path(plate)}/cash", {"tendered_fen": 1000}, CASHIER)
            paid[0] = answer
        return found

    monkeypatch.setattr(identities, "lookup", lookup_then_pay)
    assert enter(plate, T0 + timedelta(hours=5))["result"] == "entered"
    assert paid[0][0] == 200, paid
    inside = latest(plate)
    assert inside.arrears_fen == 0 and receivable(owing) == 0
    assert_books_hold()


def test_a_quote_shows_the_arrears_its_due_includes(client: Client) -> None:
    plate = "粤B71111"
    unpaid_exits(client, plate, 1, blacklist_after=0)
    assert call(client, "post", "/v1/driver/plates", {"plate": plate}, auth())[0] in (200, 201)
    assert enter(plate, datetime.now(UTC) - timedelta(minutes=20))["result"] == "entered"
    status, q = call(client, "post", "/v1/driver/quotes", {"plate": plate}, auth())
    assert status in (200, 201), q
    assert q["arrears_fen"] == 250 and q["prepaid_fen"] == 0
    assert q["due_fen"] == q["total_fen"] - q["discount_fen"] + q["arrears_fen"] - q["paid_fen"]
