"""Staff's hands on the gate end to end: real gate devices and a guidance screen on MQTT, a
cashier on HTTP. An unreadable plate matched by hand, an exit with no entry released, a remote
open, a plate corrected at the exit, each in the audit log; the guidance screen's free spaces
follow entries and exits; a day's exits export as CSV."""

from __future__ import annotations

import csv
import io
import json
import random
import threading
import time
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from awscrt import mqtt

from infra.local.simulator import GateDevice, connection
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, ENTRY_LANE, EXIT_LANE, Api, Driver, Stack, new_plate

pytestmark = pytest.mark.e2e

GUIDANCE_WITHIN = 10.0


@pytest.fixture(scope="module")
def cashier(stack: Stack) -> Api:
    api = Api(
        stack.api, stack.token(f"e2e-cashier-{uuid.uuid4().hex[:6]}", ["staff", "cashier"], DEMO_OPERATOR)
    )
    opened = api.post(f"/v1/ops/lots/{DEMO_LOT}/shifts", {})  # cash is taken in an open shift
    assert opened.status_code == 201, opened.text
    return api


class GuidanceScreen:
    """A lot's guidance screen: subscribed to the lot's free spaces."""

    def __init__(self, stack: Stack, lot_id: str) -> None:
        self.messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._conn = connection(
            f"guidance-{uuid.uuid4().hex[:8]}", stack.mqtt_host, stack.mqtt_port, stack.certs_dir
        )
        self._conn.connect().result(10)
        future, _ = self._conn.subscribe(
            f"parkcharge/lot/{lot_id}/guidance", mqtt.QoS.AT_LEAST_ONCE, callback=self._on_message
        )
        future.result(10)

    def _on_message(self, topic: str, payload: bytes, **_kwargs: Any) -> None:
        with self._cond:
            self.messages.append(json.loads(payload))
            self._cond.notify_all()

    def mark(self) -> int:
        with self._cond:
            return len(self.messages)

    def wait_for(self, match: Any, since: int, timeout: float = GUIDANCE_WITHIN) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for message in self.messages[since:]:
                    if match(message):
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching guidance message; got {self.messages[since:]}")
                self._cond.wait(remaining)

    def close(self) -> None:
        self._conn.disconnect().result(10)


@pytest.fixture(scope="module")
def screen(stack: Stack) -> Any:
    screen = GuidanceScreen(stack, DEMO_LOT)
    yield screen
    screen.close()


def _ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


def _audit(api: Api, object_type: str, object_id: str) -> list[dict[str, Any]]:
    return list(_ok(api.get("/v1/ops/audit", object_type=object_type, object_id=object_id))["entries"])


def _unmatched(exit_gate: GateDevice, plate: str) -> None:
    since = exit_gate.mark()
    exit_gate.capture(plate, "out")
    shown = exit_gate.wait_for("command", lambda b: b.get("command") == "display", since=since)
    assert "未找到入场记录" in shown["lines"]


def _entered(entry: GateDevice, plate: str) -> str:
    since = entry.mark()
    entry.capture(plate, "in")
    opened = entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    return str(opened["visit_id"])


def test_an_unreadable_plate_is_matched_by_hand_at_the_exit_and_leaves_after_paying(
    entry: GateDevice, exit_gate: GateDevice, cashier: Api
) -> None:
    visit_id = _entered(entry, "")
    time.sleep(1.2)  # the demo tariff charges from the first second
    _unmatched(exit_gate, "")
    since = exit_gate.mark()
    matched = _ok(
        cashier.post(
            f"/v1/ops/lots/{DEMO_LOT}/lanes/{EXIT_LANE}/match", {"visit_id": visit_id, "reason": "无牌车"}
        )
    )
    assert matched["visit_id"] == visit_id and matched["result"] == "payment_required"
    due = matched["due_fen"]
    assert due > 0
    shown = exit_gate.wait_for("command", lambda b: b.get("command") == "display", since=since)
    assert any(f"{due / 100:.2f}" in line for line in shown["lines"])
    paid = _ok(cashier.post(f"/v1/ops/lots/{DEMO_LOT}/visits/{visit_id}/cash", {"amount_fen": due}))
    opened = exit_gate.wait_for(
        "command", lambda b: b.get("command") == "open_gate" and b.get("visit_id") == visit_id, since=since
    )
    assert opened["correlation_id"] in [c["correlation_id"] for c in paid["commands"]]
    entries = _audit(cashier, "visit", visit_id)
    assert [e["action"] for e in entries] == ["manual_match", "cash_payment"]
    assert entries[1]["before"]["paid_fen"] == 0 and entries[1]["after"]["paid_fen"] == due


def test_an_exit_with_no_entry_is_released_with_a_reason_and_the_barrier_opens(
    exit_gate: GateDevice, cashier: Api
) -> None:
    plate = new_plate()
    _unmatched(exit_gate, plate)
    since = exit_gate.mark()
    released = _ok(
        cashier.post(
            f"/v1/ops/lots/{DEMO_LOT}/lanes/{EXIT_LANE}/release",
            {"plate": plate, "amount_fen": 800, "reason": "入场未抓拍"},
        )
    )
    opened = exit_gate.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    assert opened["visit_id"] == released["visit_id"]
    assert opened["correlation_id"] == released["commands"][0]["correlation_id"]
    [entry] = _audit(cashier, "visit", released["visit_id"])
    assert entry["action"] == "abnormal_release" and entry["reason"] == "入场未抓拍"
    assert entry["before"] is None and entry["after"]["paid_fen"] == 800
    records = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="abnormal_release", plate=plate))
    [record] = records["records"]
    assert record["detail"]["synthesised_entry"] is True


def test_a_remote_open_is_recorded_as_a_non_system_opening(entry: GateDevice, cashier: Api) -> None:
    since = entry.mark()
    opened = _ok(cashier.post(f"/v1/ops/lots/{DEMO_LOT}/lanes/{ENTRY_LANE}/open", {"reason": "访客车辆"}))
    [command] = opened["commands"]
    received = entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    assert received["correlation_id"] == command["correlation_id"]
    records = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="non_system_opening"))["records"]
    assert command["correlation_id"] in [r["detail"]["correlation_id"] for r in records]
    entries = _audit(cashier, "lane", ENTRY_LANE)
    assert command["correlation_id"] in [e["after"]["correlation_id"] for e in entries]
    assert all(e["reason"] for e in entries)


def test_a_plate_corrected_at_the_exit_is_priced_as_the_right_plate(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, cashier: Api, driver: Driver
) -> None:
    visit_id = _entered(entry, driver.plate)
    time.sleep(1.2)
    misread = driver.plate[:-1] + ("1" if driver.plate[-1] != "1" else "2")
    _unmatched(exit_gate, misread)
    corrected = _ok(
        cashier.post(
            f"/v1/ops/lots/{DEMO_LOT}/lanes/{EXIT_LANE}/corrections",
            {"read_plate": misread, "plate": driver.plate, "reason": "识别错误"},
        )
    )
    assert corrected["visit_id"] == visit_id and corrected["result"] == "payment_required"
    quote = _ok(driver.api.post("/v1/driver/quotes", {"plate": driver.plate}), 201)
    assert quote["visit_id"] == visit_id
    # The same tariff and the same first half hour: the corrected exit asks what the right plate owes.
    assert corrected["due_fen"] == quote["due_fen"] > 0
    [entry_] = _audit(cashier, "visit", visit_id)
    assert entry_["action"] == "plate_correction"
    assert entry_["before"]["read_plate"] == misread and entry_["after"]["plate"] == driver.plate
    [record] = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="correction", plate=driver.plate))[
        "records"
    ]
    assert (record["detail"]["old"], record["detail"]["new"]) == (misread, driver.plate)


def _free(api: Api) -> int:
    return int(_ok(api.get(f"/v1/ops/lots/{DEMO_LOT}/occupancy"))["free"])


def test_the_guidance_screen_sees_the_free_spaces_change_within_10_s_of_an_entry_and_an_exit(
    entry: GateDevice, exit_gate: GateDevice, cashier: Api, screen: GuidanceScreen
) -> None:
    before = _free(cashier)
    since = screen.mark()
    plate = new_plate()
    visit_id = _entered(entry, plate)
    started = time.monotonic()
    screen.wait_for(lambda m: m["free"] == before - 1, since)
    assert time.monotonic() - started < GUIDANCE_WITHIN
    time.sleep(1.2)
    exit_gate.capture(plate, "out")
    due = _wait_waiting(cashier, visit_id)
    since = screen.mark()
    _ok(cashier.post(f"/v1/ops/lots/{DEMO_LOT}/visits/{visit_id}/cash", {"amount_fen": due}))
    started = time.monotonic()
    screen.wait_for(lambda m: m["free"] == before, since)
    assert time.monotonic() - started < GUIDANCE_WITHIN


def _wait_waiting(api: Api, visit_id: str) -> int:
    """What the visit owes once the exit has priced it (bounded wait)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = _ok(api.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="inside"))["records"]
        mine = [r for r in rows if r["visit_id"] == visit_id]
        if mine and mine[0]["detail"]["total_fen"] > 0:
            return int(mine[0]["detail"]["total_fen"]) - int(mine[0]["detail"]["paid_fen"])
        time.sleep(0.2)
    raise TimeoutError("the exit did not price the visit")


def test_the_count_stays_within_capacity_under_shuffled_duplicate_captures(
    entry: GateDevice, exit_gate: GateDevice, cashier: Api, screen: GuidanceScreen
) -> None:
    before = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/occupancy"))
    since = screen.mark()
    plates = [new_plate() for _ in range(4)]
    sends: list[tuple[GateDevice, dict[str, Any]]] = []
    for plate in plates:
        sends += [(entry, {"plate": plate, "direction": "in", "message_id": str(uuid.uuid4())})] * 2
    random.Random(7).shuffle(sends)
    for device, message in sends:
        device.capture(message["plate"], message["direction"], message_id=message["message_id"])
    # Every plate entered once however often its capture came: the count rises by four.
    target = before["inside"] + len(plates)
    deadline = time.monotonic() + 15
    now_ = before
    while time.monotonic() < deadline:
        now_ = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/occupancy"))
        if now_["inside"] == target:
            break
        time.sleep(0.2)
    assert now_["inside"] == target
    screen.wait_for(lambda m: m["inside"] == target, since)
    for message in screen.messages[since:]:
        assert (
            0 <= message["inside"] <= message["capacity"]
            and message["free"] == message["capacity"] - message["inside"]
        )
    inside = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="inside", limit=500))["records"]
    assert {p for p in plates} <= {r["plate"] for r in inside}


def test_a_days_exits_export_as_csv_in_the_lots_time_zone(cashier: Api) -> None:
    today = datetime.now(ZoneInfo("Asia/Shanghai")).date().isoformat()
    exported = cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="exited", day=today, format="csv")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
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
    assert len(rows) > 1  # the cars that left in the tests above
    for row in rows[1:]:
        assert row[1].startswith(today[:4]) and row[2][:10] == today
        assert row[6] in ("现金", "线上支付", "现金+线上", "免费", "减免")


def test_a_tailgating_report_from_the_barrier_becomes_a_non_system_opening(
    exit_gate: GateDevice, cashier: Api
) -> None:
    message_id = str(uuid.uuid4())
    exit_gate.publish(
        "event",
        {"message_id": message_id, "device_id": exit_gate.device_id, "event": "tailgating", "plate": ""},
    )
    deadline = time.monotonic() + 10
    found: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not found:
        rows = _ok(cashier.get(f"/v1/ops/lots/{DEMO_LOT}/records", type="non_system_opening"))["records"]
        found = [r for r in rows if r["detail"].get("kind") == "tailgating"]
        time.sleep(0.2)
    assert found and found[0]["detail"]["lane_id"] == EXIT_LANE
