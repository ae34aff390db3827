"""Staff read the books through the ops API: a lot's and a station's journal for a day, a
visit's and a session's postings, in JSON and CSV, only for their own operator."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from tests.integration.charging.test_sessions import started
from tests.integration.parking.test_one_payable_amount import enter_at, leave_at, pay
from tests.integration.payments.test_payments import notify, now, quote, visit
from tests.support.charger import FakeCharger
from tests.support.iot import Recorder
from tests.support.tokens import staff

OTHER = staff("other-op", "other-staff")


def today() -> str:
    return (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()  # the lot's local day


def test_a_lots_journal_of_a_day_in_json_and_csv(client: Client, published: Recorder) -> None:
    enter_at(now() - timedelta(minutes=10))
    payment_id = pay(client, quote(client))
    assert notify(client, payment_id, 250).status_code == 200
    assert leave_at(now())["result"] == "exited"
    v = visit()
    day = client.http.get(f"/v1/ops/lots/demo-lot/journal?day={today()}", headers=staff()).json_body
    assert [p["kind"] for p in day["postings"]] == ["parking_payment", "visit_closed"]
    assert {"account": "revenue:demo-op:parking", "amount_fen": -250} in day["balances"]
    assert {"account": "provider_clearing:sandbox", "amount_fen": 250} in day["balances"]
    assert all(sum(line["amount_fen"] for line in p["lines"]) == 0 for p in day["postings"])
    as_csv = client.http.get(f"/v1/ops/lots/demo-lot/journal?day={today()}&format=csv", headers=staff())
    assert as_csv.status_code == 200 and as_csv.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.body.decode())))
    assert sum(int(r["debit_fen"]) for r in rows) == sum(int(r["credit_fen"]) for r in rows) == 500
    one = client.http.get(f"/v1/ops/lots/demo-lot/visits/{v.visit_id}/postings?format=csv", headers=staff())
    assert one.status_code == 200 and f"pay:{payment_id}" in one.body.decode()
    empty = client.http.get("/v1/ops/lots/demo-lot/journal?day=2020-01-01", headers=staff()).json_body
    assert empty["postings"] == []
    bad = client.http.get("/v1/ops/lots/demo-lot/journal?day=yesterday", headers=staff())
    assert bad.status_code == 400
    # another operator's staff see nothing of it
    assert client.http.get("/v1/ops/lots/demo-lot/journal", headers=OTHER).status_code == 404
    assert (
        client.http.get(f"/v1/ops/lots/demo-lot/visits/{v.visit_id}/postings", headers=OTHER).status_code
        == 404
    )


def test_a_stations_journal_and_a_sessions_postings(client: Client, published: Recorder) -> None:
    charger = FakeCharger(published)
    t = datetime.now(UTC)
    charger.boot(t)
    session_id, tx = started(client, charger, t)
    charger.stop(tx, 104_000, t + timedelta(minutes=3))
    day = client.http.get(f"/v1/ops/stations/demo-station/journal?day={today()}", headers=staff()).json_body
    assert [p["kind"] for p in day["postings"]] == ["prepay_hold", "session_settled"]
    shown = client.http.get(f"/v1/ops/charging/sessions/{session_id}/postings", headers=staff()).json_body
    assert [p["posting_id"] for p in shown["postings"]] == [f"hold:{session_id}", f"release:{session_id}"]
    assert not any(b["account"].startswith("session_hold:") for b in shown["balances"])  # released
    rows = client.http.get(f"/v1/ops/charging/sessions/{session_id}/postings?format=csv", headers=staff())
    assert rows.body.decode().startswith("at,posting_id,kind")
    assert client.http.get("/v1/ops/stations/demo-station/journal", headers=OTHER).status_code == 404
    assert (
        client.http.get(f"/v1/ops/charging/sessions/{session_id}/postings", headers=OTHER).status_code == 404
    )
