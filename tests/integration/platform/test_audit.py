"""The audit log: each configuration change is written with its entry (who, when, before and
after) in one transaction, and read back per operator, per object, by time and a page at a time."""

from __future__ import annotations

import json
from typing import Any

from chalice.test import Client

from tests.support.tokens import staff

TARIFF = {"kind": "per_visit", "free_minutes": 0, "amount_fen": 500, "cycle": "rolling_24h"}


def _audit(client: Client, headers: dict[str, str], **params: Any) -> Any:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    answer = client.http.get(f"/v1/ops/audit?{query}", headers=headers)
    assert answer.status_code == 200, answer.body
    return answer.json_body


def test_a_tariff_created_and_changed_is_in_the_audit_log_with_before_and_after(client: Client) -> None:
    me = staff("demo-op", "alice")
    created = client.http.post(
        "/v1/ops/tariffs", headers=me, body=json.dumps({"name": "flat", "definition": TARIFF})
    ).json_body
    tariff_id = created["tariff_id"]
    changed = client.http.put(
        f"/v1/ops/tariffs/{tariff_id}",
        headers=me,
        body=json.dumps({"definition": {**TARIFF, "amount_fen": 800}}),
    )
    assert changed.status_code == 201
    entries = _audit(client, me, object_type="tariff", object_id=tariff_id)["entries"]
    assert [(e["action"], e["who"]) for e in entries] == [("create", "alice"), ("new_version", "alice")]
    assert entries[0]["before"] is None and entries[0]["after"]["definition"]["amount_fen"] == 500
    assert entries[1]["before"]["definition"]["amount_fen"] == 500
    assert entries[1]["after"]["definition"]["amount_fen"] == 800
    # The other operator's staff see none of it.
    other = _audit(client, staff("other-op", "bob"), object_type="tariff", object_id=tariff_id)
    assert other["entries"] == []
    assert tariff_id not in json.dumps(_audit(client, staff("other-op", "bob")))


def test_a_lot_plan_change_records_the_plan_before_and_after(client: Client) -> None:
    me = staff("demo-op", "alice")
    plan = {c: {"tariff_id": "demo-holiday@demo-op", "holiday_tariff_id": None} for c in ("small", "large")}
    plan["other"] = {"tariff_id": "demo-small@demo-op", "holiday_tariff_id": None}
    answer = client.http.put("/v1/ops/lots/demo-lot/tariff-plan", headers=me, body=json.dumps(plan))
    assert answer.status_code == 200, answer.body
    [entry] = _audit(client, me, object_type="lot", object_id="demo-lot")["entries"]
    assert entry["action"] == "tariff_plan"
    assert entry["before"]["tariff_plan"]["small"]["tariff_id"] == "demo-small@demo-op"
    assert entry["after"]["tariff_plan"]["small"]["tariff_id"] == "demo-holiday@demo-op"


def test_a_refused_change_writes_no_entry(client: Client) -> None:
    me = staff("demo-op", "alice")
    bad = client.http.put(
        "/v1/ops/tariffs/demo-small@demo-op", headers=me, body=json.dumps({"definition": {"kind": "nope"}})
    )
    assert bad.status_code == 400
    assert _audit(client, me)["entries"] == []


def test_the_log_pages_with_a_cursor_and_filters_by_time(client: Client) -> None:
    me = staff("demo-op", "alice")
    ids = []
    for n in range(5):
        body = {"name": f"t{n}", "definition": TARIFF}
        ids.append(
            client.http.post("/v1/ops/tariffs", headers=me, body=json.dumps(body)).json_body["tariff_id"]
        )
    seen: list[str] = []
    cursor = None
    for _ in range(10):  # bounded: five entries, two a page
        page = _audit(client, me, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [e["object_id"] for e in page["entries"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert (
        _audit(client, me, **{"from": "2000-01-01T00:00:00Z", "to": "2000-01-02T00:00:00Z"})["entries"] == []
    )
    assert len(_audit(client, me, **{"from": "2000-01-01T00:00:00Z"})["entries"]) == 5


def test_a_forged_cursor_or_half_an_object_is_a_400(client: Client) -> None:
    me = staff("demo-op", "alice")
    import base64

    forged = base64.urlsafe_b64encode(
        json.dumps({"operator_id": {"S": "other-op"}, "entry_id": {"S": "au-0"}}).encode()
    ).decode()
    for query in (f"cursor={forged}", "cursor=%%%", "object_type=tariff"):
        answer = client.http.get(f"/v1/ops/audit?{query}", headers=me)
        assert answer.status_code == 400, (query, answer.body)


def test_a_station_created_and_its_tariff_changed_are_audited(client: Client) -> None:
    from datetime import UTC, datetime, timedelta

    from chalicelib.charging.models import ChargingTariffVersion

    me = staff("demo-op", "alice")
    ChargingTariffVersion(
        "ct-audit",
        1,
        operator_id="demo-op",
        name="flat",
        kind="ev",
        definition={
            "kind": "time_of_use",
            "periods": {"flat": {"electricity": 7000, "service": 8000}},
            "schedule": [{"start": "00:00", "end": "24:00", "period": "flat"}],
        },
        effective_from=datetime.now(UTC) - timedelta(days=1),
        created_at=datetime.now(UTC),
        created_by="test",
    ).save()
    created = client.http.post(
        "/v1/ops/stations", headers=me, body=json.dumps({"station_id": "st-audit", "name": "audit"})
    )
    assert created.status_code == 201, created.body
    assigned = client.http.put(
        "/v1/ops/stations/st-audit/tariff", headers=me, body=json.dumps({"tariff_id": "ct-audit"})
    )
    assert assigned.status_code == 200, assigned.body
    entries = _audit(client, me, object_type="station", object_id="st-audit")["entries"]
    assert [e["action"] for e in entries] == ["create", "tariff"]
    assert entries[0]["after"]["name"] == "audit"
    assert entries[1]["before"] == {"tariff_id": None} and entries[1]["after"] == {"tariff_id": "ct-audit"}
    # A refused creation (the id exists) writes no second entry.
    again = client.http.post(
        "/v1/ops/stations", headers=me, body=json.dumps({"station_id": "st-audit", "name": "again"})
    )
    assert again.status_code == 409
    assert len(_audit(client, me, object_type="station", object_id="st-audit")["entries"]) == 2
