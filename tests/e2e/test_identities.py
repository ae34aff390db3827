"""Who is the car, end to end (docs/identities.md): the demo lot's real gate devices on MQTT,
staff and drivers on HTTP. What the barrier and the display do for a card holder at a permitted
and a forbidden lane, a three-car two-space group, a blacklisted plate while its window is active
and after, a police plate, a single-use visitor pass, a plateless car by QR, a locked car, and
open-gate mode's arrears paid by the next visit."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, ENTRY_LANE, EXIT_LANE, Api, Driver, Stack, new_plate

pytestmark = pytest.mark.e2e

LOT = f"/v1/ops/lots/{DEMO_LOT}"
STAY_SECONDS = 1.1  # the demo tariff charges from the first whole second; a 0 s stay is free
POLL = 0.2


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Api:
    """An ops admin of the demo operator (customer service for identities, cashier for cash, in
    an open shift)."""
    desk = Api(
        stack.api, stack.token(f"e2e-desk-{uuid.uuid4().hex[:6]}", ["staff", "ops_admin"], DEMO_OPERATOR)
    )
    opened = desk.post(f"{LOT}/shifts", {})
    assert opened.status_code == 201, opened.text
    return desk


@pytest.fixture(scope="module")
def card_types(desk: Api) -> Iterator[None]:
    for type_id, body in (
        ("e2e-vip", {"name": "月卡"}),
        ("e2e-exit-only", {"name": "出口卡", "lanes": [EXIT_LANE]}),
    ):
        answer = desk.session.put(f"{desk.base}{LOT}/card-types/{type_id}", json=body, timeout=15)
        assert answer.status_code == 200, answer.text
    yield


def _plates(n: int) -> list[str]:
    return [new_plate() for _ in range(n)]


def _card(desk: Api, type_id: str, plates: list[str], **extra: Any) -> dict[str, Any]:
    body = {"type_id": type_id, "owner": "e2e", "plates": plates, **extra}
    answer = desk.post(f"{LOT}/cards", body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _options(desk: Api, body: dict[str, Any]) -> None:
    answer = desk.session.put(f"{desk.base}{LOT}/identity-options", json=body, timeout=15)
    assert answer.status_code == 200, answer.text


def _arrive(gate: GateDevice, plate: str, direction: str) -> tuple[list[str], bool]:
    """A capture; what the display shows and whether the barrier opened (open_gate and display
    of one decision go out in order on one topic: an open comes before its display)."""
    since = gate.mark()
    gate.capture(plate, direction)
    shown = gate.wait_for(
        "command", lambda b: b.get("command") == "display" and plate in b["lines"], since=since
    )
    opened = any(r.kind == "command" and r.body.get("command") == "open_gate" for r in gate.received[since:])
    return list(shown["lines"]), opened


def _remark(desk: Api, plate: str) -> str:
    answer = desk.get(f"{LOT}/visits", status="inside")
    assert answer.status_code == 200
    [visit] = [v for v in answer.json()["visits"] if v["plate"] == plate]
    return str(visit["entry_remark"])


def _visit_id(desk: Api, plate: str) -> str:
    answer = desk.get(f"{LOT}/visits", status="inside")
    [visit] = [v for v in answer.json()["visits"] if v["plate"] == plate]
    return str(visit["visit_id"])


def _pay_cash(desk: Api, exit_gate: GateDevice, plate: str, **cash: int) -> dict[str, Any]:
    """The cashier takes cash at the booth (`amount_fen` kept, or `tendered_fen` handed over and
    the change given); the exit opens for the car waiting there. The booth's answer."""
    since = exit_gate.mark()
    answer = desk.post(f"{LOT}/visits/{_visit_id(desk, plate)}/cash", cash)
    assert answer.status_code == 200, answer.text
    exit_gate.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    return dict(answer.json())


def _due_fen(lines: list[str]) -> int:
    [text] = [line for line in lines if line.startswith("请缴费")]
    return round(float(text.removeprefix("请缴费 ").removesuffix("元")) * 100)


def test_a_card_holder_at_a_permitted_and_at_a_forbidden_lane(
    desk: Api, card_types: None, entry: GateDevice, exit_gate: GateDevice
) -> None:
    vip, exit_only = _plates(2)
    _card(desk, "e2e-vip", [vip])
    _card(desk, "e2e-exit-only", [exit_only])
    assert _arrive(entry, vip, "in") == ([vip, "月卡", "欢迎光临"], True)
    assert _arrive(entry, exit_only, "in") == ([exit_only, "欢迎光临"], True)
    assert f"出口卡无车道 {ENTRY_LANE} 权限" in _remark(desk, exit_only)  # temporary, and why


def test_a_three_car_two_space_group(
    desk: Api, card_types: None, entry: GateDevice, exit_gate: GateDevice
) -> None:
    first, second, third = _plates(3)
    _card(desk, "e2e-vip", [first, second, third], spaces=2)
    assert _arrive(entry, first, "in")[0][1] == "月卡"
    assert _arrive(entry, second, "in")[0][1] == "月卡"
    assert _arrive(entry, third, "in")[0] == [third, "欢迎光临"]
    remark = _remark(desk, third)
    assert "多位多车车位已满" in remark and first in remark and second in remark
    time.sleep(STAY_SECONDS)
    assert _arrive(exit_gate, first, "out")[1] is True
    # a space is free now, but the third car entered as temporary: it pays for this visit
    lines, opened = _arrive(exit_gate, third, "out")
    assert not opened
    _pay_cash(desk, exit_gate, third, amount_fen=_due_fen(lines))
    # it exits and re-enters: VIP
    assert _arrive(entry, third, "in")[0] == [third, "月卡", "欢迎光临"]


def test_a_blacklisted_plate_is_refused_while_its_window_is_active_and_admitted_after(
    desk: Api, entry: GateDevice
) -> None:
    plate = new_plate()
    ends = datetime.now(UTC) + timedelta(seconds=4)  # the first arrival well inside the window
    answer = desk.post(
        f"{LOT}/lists", {"plate": plate, "kind": "black", "ends": ends.isoformat(), "reason": "e2e"}
    )
    assert answer.status_code == 201, answer.text
    assert _arrive(entry, plate, "in") == ([plate, "黑名单车辆", "禁止通行"], False)
    for _ in range(int(6 / POLL)):  # bounded: the window ends within 4 s
        if datetime.now(UTC) > ends:
            break
        time.sleep(POLL)
    assert _arrive(entry, plate, "in") == ([plate, "欢迎光临"], True)


def test_a_police_plate_is_free_and_a_single_use_visitor_pass_admits_once(
    desk: Api, entry: GateDevice, exit_gate: GateDevice
) -> None:
    police, visitor = f"粤A{random.randrange(10000):04d}警", new_plate()
    answer = desk.post(f"{LOT}/lists", {"plate": visitor, "kind": "visitor", "single_use": True})
    assert answer.status_code == 201, answer.text
    assert _arrive(entry, police, "in") == ([police, "特殊车辆 请通行"], True)
    assert _arrive(entry, visitor, "in") == ([visitor, "访客 欢迎光临"], True)
    time.sleep(STAY_SECONDS)
    assert _arrive(exit_gate, police, "out")[1] is True  # never charged
    assert _arrive(exit_gate, visitor, "out")[1] is True  # a visitor is free
    assert _arrive(entry, visitor, "in") == ([visitor, "欢迎光临"], True)  # the pass is used up


def test_a_plateless_car_in_and_out_by_qr(
    stack: Stack, desk: Api, entry: GateDevice, exit_gate: GateDevice
) -> None:
    driver = Api(stack.api, stack.token(f"e2e-plateless-{uuid.uuid4().hex[:8]}", ["driver"]))
    qr = desk.get(f"{LOT}/lanes/{ENTRY_LANE}/qr").json()["qr"]
    assert f"lane_id={ENTRY_LANE}" in qr
    since = entry.mark()
    scan = {"lot_id": DEMO_LOT, "lane_id": ENTRY_LANE, "scan_id": uuid.uuid4().hex}
    answer = driver.post("/v1/driver/plateless/scans", scan)
    assert answer.status_code == 200 and answer.json()["result"] == "entered", answer.text
    plate = answer.json()["plate"]
    entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
    # a second plateless entry of the same driver waits until staff close the open visit
    again = driver.post("/v1/driver/plateless/scans", {**scan, "scan_id": uuid.uuid4().hex})
    assert again.status_code == 409 and again.json()["code"] == "plateless_visit_open"
    time.sleep(STAY_SECONDS)
    out = driver.post(
        "/v1/driver/plateless/scans", {**scan, "lane_id": EXIT_LANE, "scan_id": uuid.uuid4().hex}
    )
    assert out.status_code == 200 and out.json()["result"] == "payment_required", out.text
    _pay_cash(desk, exit_gate, plate, amount_fen=out.json()["due_fen"])


def test_a_locked_car_is_held_at_the_exit(driver: Driver, entry: GateDevice, exit_gate: GateDevice) -> None:
    plate = driver.plate
    _arrive(entry, plate, "in")
    locked = driver.api.post("/v1/driver/locks", {"lot_id": DEMO_LOT, "plate": plate, "locked": True})
    assert locked.status_code == 200, locked.text
    assert _arrive(exit_gate, plate, "out") == ([plate, "车辆已锁定", "请车主解锁后出场"], False)
    driver.api.post("/v1/driver/locks", {"lot_id": DEMO_LOT, "plate": plate, "locked": False})
    # unlocked: the exit decides as for any car (a stay this short may still be free)
    lines, opened = _arrive(exit_gate, plate, "out")
    assert opened or lines[1].startswith("请缴费")
    assert "车辆已锁定" not in lines


def test_open_gate_mode_creates_arrears_that_the_next_visit_pays(
    desk: Api, entry: GateDevice, exit_gate: GateDevice
) -> None:
    plate = new_plate()
    _arrive(entry, plate, "in")
    time.sleep(STAY_SECONDS)
    _options(desk, {"open_gate_lanes": [EXIT_LANE]})
    try:
        lines, opened = _arrive(exit_gate, plate, "out")
    finally:
        _options(desk, {"open_gate_lanes": []})
    assert opened and lines[1].startswith("欠费")
    owed = round(float(lines[1].removeprefix("欠费 ").removesuffix("元")) * 100)
    _arrive(entry, plate, "in")
    assert "有欠费" in _remark(desk, plate)
    lines, opened = _arrive(exit_gate, plate, "out")
    assert not opened and _due_fen(lines) >= owed  # this visit's fee (if any) and the arrears
    # The driver hands over a 20-yuan note and gets the change. What is due is priced when the
    # cash is taken, and this short stay's first unit starts at its first whole second, which can
    # fall between the display and the cash: the amount shown may then be one unit short.
    cash = _pay_cash(desk, exit_gate, plate, tendered_fen=2000)
    assert cash["result"] == "exited" and cash["amount_fen"] >= owed
    assert cash["amount_fen"] + cash["change_fen"] == 2000
