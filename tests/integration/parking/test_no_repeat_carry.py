"""No-repeat charging (不重复收费) in constant work: each closed visit keeps the cycle's running
total, so the gate reads one earlier item however many visits the cycle has."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalice.test import Client

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import Visit
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B77777"
T0 = datetime(2026, 11, 22, 0, 0, tzinfo=UTC)


def per_visit_no_repeat(client: Client, amount_fen: int = 500) -> None:
    definition = {"kind": "per_visit", "free_minutes": 0, "amount_fen": amount_fen, "repeat": "no_repeat"}
    created = client.http.post(
        "/v1/ops/tariffs", body=json.dumps({"name": "按次不重复", "definition": definition}), headers=staff()
    )
    assert created.status_code == 201, created.body
    tariff_id = created.json_body["tariff_id"]
    plan = {c: {"tariff_id": tariff_id} for c in ("small", "large", "other")}
    assigned = client.http.put("/v1/ops/lots/demo-lot/tariff-plan", body=json.dumps(plan), headers=staff())
    assert assigned.status_code == 200, assigned.body


def visit_once(at: datetime) -> dict:
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), at)
    return handlers.on_capture(
        iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), at + timedelta(minutes=20)
    )


def test_the_eleventh_visit_in_one_no_repeat_cycle_is_not_charged_again(
    client: Client, published: Recorder
) -> None:
    """Defect 3: per visit 500, no repeat: the cap paid at the first visit holds for every later
    visit of the cycle, the 11th and the 20th included."""
    per_visit_no_repeat(client)
    first = visit_once(T0)
    assert first["result"] == "payment_required" and first["due_fen"] == 500
    [visit] = Visit.query(f"demo-lot#{PLATE}")
    visit.update(actions=[Visit.paid_fen.set(500)])  # settled at the booth
    again = handlers.on_capture(
        iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), T0 + timedelta(minutes=21)
    )
    assert again["result"] == "exited"
    for n in range(2, 21):
        outcome = visit_once(T0 + timedelta(minutes=40 * n))
        assert outcome["result"] == "exited" and outcome["due_fen"] == 0, (n, outcome)
    latest = next(iter(Visit.query(f"demo-lot#{PLATE}", scan_index_forward=False, limit=1)))
    assert latest.cycle_total_fen == 500
    # the next cycle (24 h after the first entry) charges again
    assert visit_once(T0 + timedelta(hours=25))["due_fen"] == 500


def test_a_visit_abandoned_by_a_re_entry_does_not_break_the_cycle(
    client: Client, published: Recorder
) -> None:
    per_visit_no_repeat(client)
    assert visit_once(T0)["due_fen"] == 500
    [visit] = Visit.query(f"demo-lot#{PLATE}")
    visit.update(actions=[Visit.paid_fen.set(500)])
    handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", PLATE)), T0 + timedelta(minutes=21))
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), T0 + timedelta(hours=1))
    # the exit missed the car; it comes in again (the first entry becomes abnormal) and leaves
    outcome = visit_once(T0 + timedelta(hours=2))
    assert outcome["result"] == "exited" and outcome["due_fen"] == 0
