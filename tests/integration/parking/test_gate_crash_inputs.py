"""Every gate topic (capture, ack, status) rejects with a reason, never crashes, on JSON nested
thousands deep, lone surrogates, NUL in a plate, numbers out of range and year 9999; the next
good message is served."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.parking import devices as handlers
from tests.support.iot import Recorder, capture, iot_event

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ENTRY = "demo-entry-cam"
HANDLERS = {"capture": handlers.on_capture, "ack": handlers.on_ack, "status": handlers.on_status}

BAD = {
    "deep object": b'{"message_id": "m", "x": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}",
    "deep list": b"[" * 100_000 + b"]" * 100_000,
    "lone surrogate": (
        b'{"message_id": "m-1", "device_id": "demo-entry-cam", "direction": "in", "plate": "\\udc80",'
        b' "correlation_id": "c", "result": "ok", "state": "online"}'
    ),
    "huge integer": b'{"message_id": "m-2", "plate_color": ' + b"9" * 5000 + b"}",
    "1e400": b'{"message_id": "m-3", "device_id": "demo-entry-cam", "confidence": 1e400}',
}


@pytest.mark.parametrize("kind", sorted(HANDLERS))
@pytest.mark.parametrize("name", sorted(BAD))
def test_every_gate_topic_rejects_crash_inputs(demo, published: Recorder, kind: str, name: str) -> None:
    result = HANDLERS[kind](iot_event(ENTRY, kind, BAD[name]), T0)
    assert result["result"] == "rejected", result


@pytest.mark.parametrize("kind", sorted(HANDLERS))
def test_nul_and_year_9999_are_rejected(demo, published: Recorder, kind: str) -> None:
    base = {
        "message_id": "m-nul",
        "device_id": ENTRY,
        "direction": "in",
        "plate": "粤B\x001234",
        "correlation_id": "c\x00",
        "result": "ok",
        "state": "online\x00",
    }
    assert HANDLERS[kind](iot_event(ENTRY, kind, base), T0)["result"] == "rejected"
    late = {**capture(ENTRY, "in", "粤B12345"), "device_time": "9999-12-31T23:59:59-05:00"}
    late.update(state="online", correlation_id="c-1", result="ok")
    result = HANDLERS[kind](iot_event(ENTRY, kind, late), T0)
    assert result["result"] != "error"
    if kind != "ack":
        assert result["result"] == "rejected", result


def test_the_next_good_capture_is_served(demo, published: Recorder) -> None:
    for raw in BAD.values():
        handlers.on_capture(iot_event(ENTRY, "capture", raw), T0)
    result = handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B12345")), T0)
    assert result["result"] == "entered"
