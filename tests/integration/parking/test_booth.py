"""Cash at the booth and cashier shifts through the HTTP routes and the real tables (moto): cash
is taken only in an open shift, with what was handed over and the change; an amount above the
lot's threshold needs a second, confirmed call; closing the shift reports its totals, and they
equal the journal's cash postings of that shift."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from chalice.test import Client

from chalicelib.ledger import checks
from chalicelib.ledger.journal import scan_all
from chalicelib.parking.models import Visit
from tests.integration.parking.test_gate_ops import CASHIER, PLATE, T0, at, enter, leave
from tests.support.tokens import staff

LOT = "/v1/ops/lots/demo-lot"
ADMIN = staff("demo-op", "admin-wang", roles=("ops_admin",))


def post(
    client: Client, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] = CASHIER
) -> Any:
    return client.http.post(path, headers=headers, body=json.dumps(body) if body is not None else b"")


def waiting(plate: str, hours: int) -> Visit:
    enter(plate, T0)
    assert leave(plate, T0 + timedelta(hours=hours))["result"] == "payment_required"
    [visit] = list(Visit.query(f"demo-lot#{plate}"))
    return visit


def cash_postings_of(shift_id: str) -> int:
    return sum(
        line.amount_fen
        for posting in scan_all()
        if posting.memo.get("shift_id") == shift_id
        for line in posting.lines
        if line.account == "provider_clearing:cash"
    )


def test_cash_needs_an_open_shift_and_the_shift_closes_with_the_journals_cash(client: Client) -> None:
    first = waiting(PLATE, 2)  # owes 1250
    with at(T0 + timedelta(hours=2, minutes=1)):
        refused = post(client, f"{LOT}/visits/{first.visit_id}/cash", {"tendered_fen": 2000})
    assert refused.status_code == 409 and refused.json_body["code"] == "no_open_shift"
    assert not [p for p in scan_all() if p.kind == "parking_payment"]

    opened = post(client, f"{LOT}/shifts")
    assert opened.status_code == 201, opened.body
    shift_id = opened.json_body["shift_id"]
    again = post(client, f"{LOT}/shifts")
    assert again.status_code == 409 and again.json_body["code"] == "shift_already_open"

    with at(T0 + timedelta(hours=2, minutes=1)):
        paid = post(client, f"{LOT}/visits/{first.visit_id}/cash", {"tendered_fen": 2000})
    assert paid.status_code == 200, paid.body
    body = paid.json_body
    assert (body["shift_id"], body["tendered_fen"], body["amount_fen"], body["change_fen"]) == (
        shift_id,
        2000,
        1250,
        750,
    )
    assert body["result"] == "exited"

    # Above the lot's threshold: refused until confirmed, and nothing is written meanwhile.
    policy = client.http.put(
        f"{LOT}/booth-policy", headers=ADMIN, body=json.dumps({"confirm_above_fen": 1000})
    )
    assert policy.status_code == 200, policy.body
    second = waiting("粤B22222", 3)  # owes 1750
    with at(T0 + timedelta(hours=3, minutes=1)):
        unconfirmed = post(client, f"{LOT}/visits/{second.visit_id}/cash", {"amount_fen": 1750})
        assert unconfirmed.status_code == 409 and unconfirmed.json_body["code"] == "confirmation_required"
        assert cash_postings_of(shift_id) == 1250
        confirmed = post(
            client, f"{LOT}/visits/{second.visit_id}/cash", {"amount_fen": 1750, "confirmed": True}
        )
    assert confirmed.status_code == 200, confirmed.body

    # An abnormal release in the shift: the cash taken and what it waived.
    third = waiting("粤B33333", 2)
    with at(T0 + timedelta(hours=2, minutes=5)):
        released = post(
            client,
            f"{LOT}/lanes/exit-1/release",
            {"visit_id": third.visit_id, "amount_fen": 500, "reason": "车主现金不足"},
        )
    assert released.status_code == 200, released.body

    closed = post(client, f"{LOT}/shifts/current/close")
    assert closed.status_code == 200, closed.body
    report = closed.json_body
    assert report["status"] == "closed" and report["shift_id"] == shift_id
    assert (report["payments"], report["cash_fen"], report["tendered_fen"], report["change_fen"]) == (
        2,
        3000,
        3750,
        750,
    )
    assert report["abnormal_releases"] == {"count": 1, "cash_fen": 500, "waived_fen": 750}
    assert report["by_method"] == {"cash": 3500} and report["total_cash_fen"] == 3500
    assert cash_postings_of(shift_id) == report["total_cash_fen"]
    assert checks.run() == []

    listed = client.http.get(f"{LOT}/shifts", headers=staff("demo-op", "fin", roles=("finance",)))
    assert [s["shift_id"] for s in listed.json_body["shifts"]] == [shift_id]
    assert listed.json_body["shifts"][0]["cash_fen"] == 3000
    entries = client.http.get(f"/v1/ops/audit?object_type=shift&object_id={shift_id}", headers=CASHIER)
    assert [e["action"] for e in entries.json_body["entries"]] == ["shift_open", "shift_close"]

    # After the close, the cashier takes no cash until a new shift is open.
    fourth = waiting("粤B44444", 2)
    with at(T0 + timedelta(hours=2, minutes=1)):
        late = post(client, f"{LOT}/visits/{fourth.visit_id}/cash", {"amount_fen": 1250})
    assert late.status_code == 409 and late.json_body["code"] == "no_open_shift"
    again_closed = post(client, f"{LOT}/shifts/current/close")
    assert again_closed.status_code == 409 and again_closed.json_body["code"] == "no_open_shift"


def test_cash_short_of_the_fee_answers_what_is_still_owed(client: Client) -> None:
    visit = waiting(PLATE, 2)  # owes 1250
    assert post(client, f"{LOT}/shifts").status_code == 201
    with at(T0 + timedelta(hours=2, minutes=1)):
        part = post(client, f"{LOT}/visits/{visit.visit_id}/cash", {"amount_fen": 500})
        assert part.status_code == 200, part.body
        assert (part.json_body["result"], part.json_body["due_fen"]) == (None, 750)  # still waiting
        rest = post(client, f"{LOT}/visits/{visit.visit_id}/cash", {"amount_fen": 750})
    assert (rest.json_body["result"], rest.json_body["due_fen"]) == ("exited", 0)


def test_cash_the_driver_does_not_cover_is_refused(client: Client) -> None:
    visit = waiting(PLATE, 2)
    assert post(client, f"{LOT}/shifts").status_code == 201
    with at(T0 + timedelta(hours=2, minutes=1)):
        short = post(client, f"{LOT}/visits/{visit.visit_id}/cash", {"tendered_fen": 500, "amount_fen": 600})
    assert short.status_code == 400 and short.json_body["code"] == "invalid_cash"
    assert not [p for p in scan_all() if p.kind == "parking_payment"]
