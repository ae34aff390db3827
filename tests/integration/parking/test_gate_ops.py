"""Staff's hands on the gate through the HTTP routes and the real handlers and tables (moto):
release, remote open, manual match, plate correction, cash, stale close; each with its record,
its audit entry and its commands, the books balanced and the lot's count within its bounds."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from chalice.test import Client

from chalicelib.ledger import checks
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import CLOSED, EXITED, INSIDE, RELEASED, Occupancy, Visit
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
CASHIER = staff("demo-op", "cashier-li", roles=("cashier",))
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3)


def enter(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), at)


def leave(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


@pytest.fixture(autouse=True)
def shift(client: Client) -> None:
    """Cash is taken in the cashier's open shift (docs/booth.md)."""
    opened = client.http.post("/v1/ops/lots/demo-lot/shifts", headers=CASHIER)
    assert opened.status_code == 201, opened.body


def post(client: Client, path: str, body: dict[str, Any], headers: dict[str, str] = CASHIER) -> Any:
    return client.http.post(path, headers=headers, body=json.dumps(body))


def at(when: datetime) -> Any:
    """The HTTP routes' clock, set to `when`."""
    return mock.patch("chalicelib.parking.ops_api.now", return_value=when)


def audit(client: Client, object_type: str, object_id: str) -> list[dict[str, Any]]:
    answer = client.http.get(
        f"/v1/ops/audit?object_type={object_type}&object_id={object_id}", headers=CASHIER
    )
    return answer.json_body["entries"]


def inside_count() -> int:
    try:
        return int(Occupancy.get("demo-lot").inside)
    except Occupancy.DoesNotExist:
        return 0


def test_an_unreadable_plate_is_matched_by_hand_at_the_exit_and_leaves_after_paying_cash(
    client: Client, published: Recorder
) -> None:
    enter("未识别", T0)
    [placeholder] = list(Visit.inside_by_lot.query("demo-lot"))
    assert placeholder.plate.startswith("未识别")
    assert leave("", T0 + timedelta(hours=2))["result"] == "unmatched_exit"
    with at(T0 + timedelta(hours=2, minutes=1)):
        matched = post(
            client,
            "/v1/ops/lots/demo-lot/lanes/exit-1/match",
            {"visit_id": placeholder.visit_id, "reason": "无牌车"},
        )
    assert matched.status_code == 200, matched.body
    body = matched.json_body
    assert (body["visit_id"], body["result"], body["due_fen"]) == (
        placeholder.visit_id,
        "payment_required",
        1250,
    )
    assert [c["command"] for c in body["commands"]] == ["display"]
    with at(T0 + timedelta(hours=2, minutes=2)):
        paid = post(client, f"/v1/ops/lots/demo-lot/visits/{placeholder.visit_id}/cash", {"amount_fen": 1250})
    assert paid.status_code == 200, paid.body
    assert paid.json_body["result"] == "exited"
    opened = [c for c in paid.json_body["commands"] if c["command"] == "open_gate"]
    assert opened and opened[0]["device_id"] == EXIT
    assert opened[0]["correlation_id"] in {m["correlation_id"] for m in published.commands(EXIT, "open_gate")}
    visit = Visit.get(placeholder.lot_plate, placeholder.visit_id)
    assert visit.status == EXITED and int(visit.cash_fen) == 1250 and int(visit.paid_fen) == 1250
    actions = [e["action"] for e in audit(client, "visit", placeholder.visit_id)]
    assert actions == ["manual_match", "cash_payment"]
    records = client.http.get("/v1/ops/lots/demo-lot/records?type=manual_match", headers=CASHIER).json_body
    [record] = records["records"]
    assert record["detail"]["who"] == "cashier-li" and record["detail"]["new"] == placeholder.plate
    assert checks.run() == []
    assert inside_count() == 0


def test_an_exit_with_no_entry_is_released_with_a_synthesised_entry_and_the_books_balance(
    client: Client, published: Recorder
) -> None:
    assert leave(PLATE, T0)["result"] == "unmatched_exit"
    with at(T0 + timedelta(minutes=1)):
        released = post(
            client,
            "/v1/ops/lots/demo-lot/lanes/exit-1/release",
            {"plate": PLATE, "amount_fen": 1000, "reason": "入场未抓拍, 按票据收费"},
        )
    assert released.status_code == 200, released.body
    visit_id = released.json_body["visit_id"]
    assert [c["command"] for c in released.json_body["commands"]] == ["open_gate", "display"]
    assert published.commands(EXIT, "open_gate")[-1]["visit_id"] == visit_id
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    assert visit.visit_id == visit_id and visit.status == RELEASED and int(visit.paid_fen) == 1000
    assert "补录入场" in visit.entry_remark
    # No normal exit is written for it.
    exits = client.http.get("/v1/ops/lots/demo-lot/records?type=exited", headers=CASHIER).json_body
    assert exits["records"] == []
    [record] = client.http.get(
        "/v1/ops/lots/demo-lot/records?type=abnormal_release", headers=CASHIER
    ).json_body["records"]
    assert record["detail"]["synthesised_entry"] is True and record["detail"]["cash_fen"] == 1000
    [entry] = audit(client, "visit", visit_id)
    assert entry["action"] == "abnormal_release" and entry["before"] is None
    assert entry["after"]["paid_fen"] == 1000 and entry["reason"] == "入场未抓拍, 按票据收费"
    assert checks.run() == []


def test_a_release_that_waives_part_of_the_fee_leaves_an_arrears_record(client: Client) -> None:
    enter(PLATE, T0)
    assert leave(PLATE, T0 + timedelta(hours=2))["result"] == "payment_required"
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    with at(T0 + timedelta(hours=2, minutes=1)):
        released = post(
            client,
            "/v1/ops/lots/demo-lot/lanes/exit-1/release",
            {"visit_id": visit.visit_id, "amount_fen": 500, "reason": "车主现金不足"},
        )
    assert released.status_code == 200, released.body
    visit.refresh()
    assert visit.status == RELEASED and int(visit.paid_fen) == 500 and int(visit.total_fen) == 1250
    [arrears] = client.http.get("/v1/ops/lots/demo-lot/records?type=arrears", headers=CASHIER).json_body[
        "records"
    ]
    assert arrears["detail"]["unpaid_fen"] == 750
    assert checks.run() == []
    assert inside_count() == 0


def test_a_remote_open_is_a_non_system_opening_with_its_command_and_audit_entry(
    client: Client, published: Recorder
) -> None:
    with at(T0):
        opened = post(client, "/v1/ops/lots/demo-lot/lanes/entry-1/open", {"reason": "消防车通行"})
    assert opened.status_code == 200, opened.body
    [command] = opened.json_body["commands"]
    assert command["command"] == "open_gate" and command["device_id"] == ENTRY
    assert published.commands(ENTRY, "open_gate")[-1]["correlation_id"] == command["correlation_id"]
    [record] = client.http.get(
        "/v1/ops/lots/demo-lot/records?type=non_system_opening", headers=CASHIER
    ).json_body["records"]
    assert record["detail"]["kind"] == "remote_open" and record["detail"]["reason"] == "消防车通行"
    [entry] = audit(client, "lane", "entry-1")
    assert entry["action"] == "remote_open" and entry["after"]["correlation_id"] == command["correlation_id"]


def test_a_remote_open_at_an_exit_naming_the_car_settles_it(client: Client) -> None:
    enter(PLATE, T0)
    leave(PLATE, T0 + timedelta(hours=1))
    with at(T0 + timedelta(hours=1, minutes=1)):
        opened = post(
            client, "/v1/ops/lots/demo-lot/lanes/exit-1/open", {"reason": "云坐席放行", "plate": PLATE}
        )
    assert opened.status_code == 200, opened.body
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    assert visit.status == RELEASED
    types = {
        r["type"]
        for r in client.http.get("/v1/ops/lots/demo-lot/records", headers=CASHIER).json_body["records"]
    }
    assert {"non_system_opening", "abnormal_release", "arrears"} <= types
    assert checks.run() == []


def test_a_plate_corrected_at_the_exit_is_priced_as_the_right_plate(client: Client) -> None:
    enter(PLATE, T0)
    misread = "粤B12346"
    assert leave(misread, T0 + timedelta(hours=2))["result"] == "unmatched_exit"
    with at(T0 + timedelta(hours=2)):
        corrected = post(
            client,
            "/v1/ops/lots/demo-lot/lanes/exit-1/corrections",
            {"read_plate": misread, "plate": PLATE, "reason": "识别错误"},
        )
    assert corrected.status_code == 200, corrected.body
    # Two hours of the demo tariff (2.50 per started half hour) as for the right plate.
    assert corrected.json_body["result"] == "payment_required" and corrected.json_body["due_fen"] == 1000
    [record] = client.http.get("/v1/ops/lots/demo-lot/records?type=correction", headers=CASHIER).json_body[
        "records"
    ]
    assert (record["detail"]["old"], record["detail"]["new"], record["detail"]["who"]) == (
        misread,
        PLATE,
        "cashier-li",
    )
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    [entry] = audit(client, "visit", visit.visit_id)
    assert entry["before"]["read_plate"] == misread and entry["after"]["plate"] == PLATE


def test_a_plate_corrected_at_the_entry_moves_the_visit_and_keeps_its_id(client: Client) -> None:
    enter("粤B1234S", T0)
    [misread] = list(Visit.query("demo-lot#粤B1234S"))
    with at(T0 + timedelta(minutes=5)):
        corrected = post(
            client,
            "/v1/ops/lots/demo-lot/lanes/entry-1/corrections",
            {"read_plate": "粤B1234S", "plate": PLATE},
        )
    assert corrected.status_code == 200, corrected.body
    assert list(Visit.query("demo-lot#粤B1234S")) == []
    [moved] = list(Visit.query(f"demo-lot#{PLATE}"))
    assert moved.visit_id == misread.visit_id and moved.status == INSIDE
    assert moved.corrections[0]["old"] == "粤B1234S"
    # The exit now reads the right plate and finds it.
    assert leave(PLATE, T0 + timedelta(hours=1))["result"] == "payment_required"
    assert inside_count() == 1


def test_a_stale_visit_is_closed_with_a_reason_and_the_count_goes_down(client: Client) -> None:
    enter(PLATE, T0)
    assert inside_count() == 1
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    with at(T0 + timedelta(days=3)):
        closed = post(
            client, f"/v1/ops/lots/demo-lot/visits/{visit.visit_id}/close", {"reason": "已离场未抓拍"}
        )
    assert closed.status_code == 200, closed.body
    visit.refresh()
    assert visit.status == CLOSED and visit.inside_lot is None
    assert inside_count() == 0
    again = post(client, f"/v1/ops/lots/demo-lot/visits/{visit.visit_id}/close", {"reason": "x"})
    assert again.status_code == 409
    assert checks.run() == []


def test_staff_without_the_role_or_of_another_operator_cannot_act(client: Client) -> None:
    enter(PLATE, T0)
    [visit] = list(Visit.query(f"demo-lot#{PLATE}"))
    finance = staff("demo-op", "fin", roles=("finance",))
    other = staff("other-op", "cashier-b", roles=("cashier",))
    paths: list[tuple[str, dict[str, Any]]] = [
        ("/v1/ops/lots/demo-lot/lanes/exit-1/release", {"visit_id": visit.visit_id, "reason": "x"}),
        ("/v1/ops/lots/demo-lot/lanes/exit-1/open", {"reason": "x"}),
        ("/v1/ops/lots/demo-lot/lanes/exit-1/match", {"visit_id": visit.visit_id}),
        ("/v1/ops/lots/demo-lot/lanes/exit-1/corrections", {"read_plate": "粤B1", "plate": PLATE}),
        (f"/v1/ops/lots/demo-lot/visits/{visit.visit_id}/cash", {"amount_fen": 100}),
        (f"/v1/ops/lots/demo-lot/visits/{visit.visit_id}/close", {"reason": "x"}),
    ]
    for path, body in paths:
        refused = post(client, path, body, headers=finance)
        assert refused.status_code == 403 and refused.json_body["code"] == "role_required", path
        crossed = post(client, path, body, headers=other)
        assert crossed.status_code == 404, (path, crossed.body)
    visit.refresh()
    assert visit.status == INSIDE


def test_a_days_exits_export_as_csv_in_the_lots_time_zone(client: Client) -> None:
    day = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    for n, plate in enumerate(("粤B00001", "粤B00002")):
        enter(plate, day + timedelta(minutes=n))
    assert leave("粤B00001", day + timedelta(minutes=20))["result"] == "payment_required"
    [first] = list(Visit.query("demo-lot#粤B00001"))
    with at(day + timedelta(minutes=21)):
        post(client, f"/v1/ops/lots/demo-lot/visits/{first.visit_id}/cash", {"amount_fen": 250})
    assert Visit.get(first.lot_plate, first.visit_id).status == EXITED
    leave("粤B00002", day + timedelta(hours=1, minutes=1))
    [second] = list(Visit.query("demo-lot#粤B00002"))
    with at(day + timedelta(hours=1, minutes=2)):
        post(client, f"/v1/ops/lots/demo-lot/visits/{second.visit_id}/cash", {"amount_fen": 750})
    exported = client.http.get(
        "/v1/ops/lots/demo-lot/records?type=exited&day=2026-11-20&format=csv", headers=CASHIER
    )
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    text = exported.body.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == [
        "车牌 plate",
        "入场 entry",
        "出场 exit",
        "时长 duration",
        "应收 fee",
        "实收 paid",
        "方式 method",
        "备注 remark",
    ]
    assert [r[0] for r in rows[1:]] == ["粤B00001", "粤B00002"]
    assert rows[1][1] == "2026-11-20 09:00:00" and rows[1][2] == "2026-11-20 09:21:00"
    assert rows[1][3] == "0:21" and rows[1][4] == "2.50" and rows[1][5] == "2.50" and rows[1][6] == "现金"
    assert rows[2][3] == "1:01" and rows[2][4] == "7.50" and rows[2][6] == "现金"
    other_day = client.http.get(
        "/v1/ops/lots/demo-lot/records?type=exited&day=2026-11-21&format=csv", headers=CASHIER
    )
    assert len(list(csv.reader(io.StringIO(other_day.body.decode().lstrip("\ufeff"))))) == 1
