"""Command records: acks finish a command once, the sweeper times out the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chalicelib.parking import devices as handlers
from chalicelib.platform import commands
from chalicelib.platform.models import ACKED, TIMED_OUT, Command
from tests.support.iot import Recorder, capture, iot_event

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ENTRY = "demo-entry-cam"
PLATE = "粤B12345"


def enter(plate: str = PLATE, at: datetime = T0, **extra: object) -> dict:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate, **extra)), at)


def test_acks_finish_commands_once_and_the_sweeper_times_out_the_rest(demo, published: Recorder) -> None:
    enter(at=T0)
    [opened] = published.commands(ENTRY, "open_gate")
    [shown] = published.commands(ENTRY, "display")
    ack = {
        "message_id": "a-1",
        "device_id": ENTRY,
        "correlation_id": opened["correlation_id"],
        "result": "ok",
    }
    assert handlers.on_ack(iot_event(ENTRY, "ack", ack), T0 + timedelta(seconds=1))["result"] == "recorded"
    again = {**ack, "message_id": "a-2"}
    assert handlers.on_ack(iot_event(ENTRY, "ack", again), T0 + timedelta(seconds=2))["result"] == "ignored"
    assert commands.sweep_timeouts(T0 + timedelta(minutes=5)) == 1
    assert Command.get(ENTRY, opened["correlation_id"]).status == ACKED
    assert Command.get(ENTRY, shown["correlation_id"]).status == TIMED_OUT


def status(at: datetime, n: int) -> None:
    report = {"message_id": f"st-{n}", "device_id": ENTRY, "state": "online", "barrier": "closed"}
    assert handlers.on_status(iot_event(ENTRY, "status", report), at)["result"] == "recorded"


def test_lagging_acks_do_not_make_a_resend_storm(demo, published: Recorder) -> None:
    """Acks that trail a backlog: new captures read no outbox and re-publish nothing (the gate
    path's round trips); the device's status reports re-publish each waiting command with a
    doubling wait, not every command on every report; the acks re-publish nothing."""
    for i in range(5):
        enter(f"粤B1000{i}", at=T0 + timedelta(milliseconds=10 * i))
    waiting = [c["correlation_id"] for c in published.commands(ENTRY)]
    assert len(waiting) == 10  # an open_gate and a display per car
    published.clear()
    # Five more cars at 3 s, 3.5 s, … 5 s: the first ten commands are 3–5 s old, unacked.
    for i in range(5):
        enter(f"粤B2000{i}", at=T0 + timedelta(seconds=3, milliseconds=500 * i))
    assert [c for c in published.commands(ENTRY) if c["correlation_id"] in waiting] == []
    published.clear()
    # Five status reports over the same seconds: each waiting command once, not five times.
    for i in range(5):
        status(T0 + timedelta(seconds=3, milliseconds=500 * i + 100), i)
    resent = [c for c in published.commands(ENTRY) if c["correlation_id"] in waiting]
    assert sorted(c["correlation_id"] for c in resent) == sorted(waiting)
    published.clear()
    for n, correlation_id in enumerate(waiting):  # their acks, 8 s in: nothing is re-published
        ack = {"message_id": f"lag-{n}", "device_id": ENTRY, "correlation_id": correlation_id, "result": "ok"}
        answer = handlers.on_ack(iot_event(ENTRY, "ack", ack), T0 + timedelta(seconds=8))
        assert answer["result"] == "recorded"
    assert published.commands(ENTRY) == []
