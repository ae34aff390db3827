"""Records the devices cause (docs/mqtt.md, up/event): tailgating, a remote-control opening, an
abnormal capture; each kept once, refused with a reason when it cannot be processed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, Record, Visit
from tests.support.iot import Recorder, capture, iot_event

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def event(device_id: str, kind: str, **extra: object) -> dict:
    body = {"message_id": str(uuid.uuid4()), "device_id": device_id, "event": kind, **extra}
    return iot_event(device_id, "event", body)


def records(record_type: str) -> list[Record]:
    return list(Record.query("demo-lot", Record.record_key.startswith(f"{record_type}#")))


def test_tailgating_is_a_non_system_opening_and_the_exit_is_still_written(demo, published: Recorder) -> None:
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B55555")), T0)
    handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", "粤B55555")), T0)
    message = event(EXIT, "tailgating", plate="粤B55555")
    assert handlers.on_event(message, T0 + timedelta(seconds=3)) == {"result": "recorded"}
    assert handlers.on_event(message, T0 + timedelta(seconds=4)) == {"result": "duplicate"}
    [record] = records("non_system_opening")
    assert record.detail["kind"] == "tailgating" and record.detail["lane_id"] == "exit-1"
    [visit] = list(Visit.query("demo-lot#粤B55555"))
    assert visit.status == EXITED


def test_a_remote_control_opening_is_recorded_without_an_exit(demo, published: Recorder) -> None:
    assert handlers.on_event(event(EXIT, "remote_control_open"), T0)["result"] == "recorded"
    [record] = records("non_system_opening")
    assert record.detail["kind"] == "remote_control" and record.visit_id is None


def test_an_abnormal_capture_becomes_a_record_naming_the_first_capture(demo, published: Recorder) -> None:
    first = capture(EXIT, "out", "粤B66666")
    handlers.on_capture(iot_event(EXIT, "capture", first), T0)
    reported = event(EXIT, "abnormal_capture", plate="粤B66666", ref_message_id=first["message_id"])
    assert handlers.on_event(reported, T0 + timedelta(seconds=20))["result"] == "recorded"
    [record] = records("abnormal_capture")
    assert record.plate == "粤B66666" and record.detail["ref_message_id"] == first["message_id"]


def test_an_unknown_event_is_refused_with_a_reason(demo, published: Recorder) -> None:
    result = handlers.on_event(event(EXIT, "teleport"), T0)
    assert result["result"] == "rejected" and "event must be one of" in result["reason"]
    [error] = published.errors(EXIT)
    assert "event" in error["reason"]
