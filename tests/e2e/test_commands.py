"""Downlink command tracking end to end: the device's acks, and the scheduled sweeper marking
commands nobody acknowledged (the stack runs with a 2 s command timeout and a fast schedule)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.simulator import GateDevice
from tests.e2e.support import COMMAND_TIMEOUT, DEMO_OPERATOR, ENTRY_LANE, Api, Stack, new_plate

pytestmark = pytest.mark.e2e

SWEEP_DEADLINE = 30.0


@pytest.fixture
def staff(stack: Stack) -> Api:
    return Api(stack.api, stack.token("demo-staff", ["staff"], operator_id=DEMO_OPERATOR))


@pytest.fixture
def silent_entry(entry: GateDevice) -> Iterator[GateDevice]:
    """The entry camera, not acknowledging commands for the duration of a test."""
    entry.auto_ack = False
    try:
        yield entry
    finally:
        entry.auto_ack = True


def _statuses(staff: Api, device_id: str, correlation_ids: set[str]) -> dict[str, Any]:
    response = staff.get(f"/v1/ops/devices/{device_id}/commands")
    assert response.status_code == 200, response.text
    return {
        c["correlation_id"]: c["status"]
        for c in response.json()["commands"]
        if c["correlation_id"] in correlation_ids
    }


def _poll_statuses(staff: Api, device_id: str, ids: set[str], want: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        seen = _statuses(staff, device_id, ids)
        if len(seen) == len(ids) and set(seen.values()) == {want}:
            return seen
        if time.monotonic() > deadline:
            return seen
        time.sleep(0.25)


def _capture_at_entry(entry: GateDevice) -> set[str]:
    plate = new_plate()
    since = entry.mark()
    entry.capture(plate, "in")
    entry.wait_for(
        "command", lambda b: b.get("command") == "open_gate" and b.get("lane_id") == ENTRY_LANE, since=since
    )
    entry.wait_for(
        "command", lambda b: b.get("command") == "display" and plate in b.get("lines", []), since=since
    )
    return {r.body["correlation_id"] for r in entry.received[since:] if r.kind == "command"}


def test_acknowledged_commands_are_acked(entry: GateDevice, staff: Api) -> None:
    ids = _capture_at_entry(entry)
    assert len(ids) == 2
    assert _poll_statuses(staff, entry.device_id, ids, "acked", 10.0) == dict.fromkeys(ids, "acked")


def test_unacknowledged_commands_time_out(silent_entry: GateDevice, staff: Api) -> None:
    ids = _capture_at_entry(silent_entry)
    assert set(_statuses(staff, silent_entry.device_id, ids).values()) <= {"sent"}
    seen = _poll_statuses(staff, silent_entry.device_id, ids, "timed_out", COMMAND_TIMEOUT + SWEEP_DEADLINE)
    assert seen == dict.fromkeys(ids, "timed_out")
