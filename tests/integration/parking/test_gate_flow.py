"""The gate path through the real handlers and tables (moto), with the IoT rule's event shape."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import ABNORMAL_ENTRY, EXITED, INSIDE, Record, Visit
from chalicelib.platform.models import SENT, Command, DeadLetter
from tests.support.iot import Recorder, capture, iot_event

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"


def visits(plate: str = PLATE) -> list[Visit]:
    return list(Visit.query(f"demo-lot#{plate}"))


def enter(plate: str = PLATE, at: datetime = T0, **extra: object) -> dict:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate, **extra)), at)


def leave(plate: str = PLATE, at: datetime = T0) -> dict:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


def set_free_minutes(minutes: int) -> None:
    from chalicelib.parking import tariffs
    from chalicelib.parking.contract import TariffUpdate

    current = tariffs.latest("demo-op", "demo-small@demo-op")
    change = TariffUpdate(definition={**current.definition, "free_minutes": minutes})
    tariffs.new_version("demo-op", "test", current.tariff_id, change, T0)


def test_entry_records_a_visit_and_opens_the_gate_with_a_welcome(demo, published: Recorder) -> None:
    result = enter()
    assert result["result"] == "entered"
    [visit] = visits()
    assert visit.status == INSIDE and visit.entered_at == T0 and visit.entry_lane_id == "entry-1"
    [opened] = published.commands(ENTRY, "open_gate")
    assert opened["visit_id"] == visit.visit_id and opened["correlation_id"].startswith("cmd-")
    [shown] = published.commands(ENTRY, "display")
    assert shown["lines"] == [PLATE, "欢迎光临"]
    stored = Command.get(ENTRY, opened["correlation_id"])
    assert stored.status == SENT


def test_the_same_capture_delivered_twice_gives_one_visit_and_one_command(demo, published: Recorder) -> None:
    event = iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE))
    first = handlers.on_capture(event, T0)
    second = handlers.on_capture(event, T0 + timedelta(seconds=2))
    assert (first["result"], second["result"]) == ("entered", "duplicate")
    assert len(visits()) == 1
    # One command: the repeat publishes the unacknowledged one again, with its correlation id,
    # which the device de-duplicates by (docs/mqtt.md).
    assert len({c["correlation_id"] for c in published.commands(ENTRY, "open_gate")}) == 1


def test_a_plate_entering_again_turns_the_earlier_visit_into_an_abnormal_entry(
    demo, published: Recorder
) -> None:
    enter(at=T0)
    enter(at=T0 + timedelta(hours=2))
    earlier, later = visits()
    assert earlier.status == ABNORMAL_ENTRY and earlier.inside_lot is None
    assert later.status == INSIDE
    [record] = Record.query("demo-lot", Record.record_key.startswith("abnormal_entry#"))
    assert record.visit_id == earlier.visit_id and record.detail["replaced_by"] == later.visit_id
    assert len(published.commands(ENTRY, "open_gate")) == 2


def test_exit_inside_the_free_minutes_opens_and_closes_the_visit(demo, published: Recorder) -> None:
    set_free_minutes(15)
    enter(at=T0)
    result = leave(at=T0 + timedelta(minutes=14))
    assert result == {"result": "exited", "visit_id": visits()[0].visit_id, "due_fen": 0}
    [visit] = visits()
    assert visit.status == EXITED and visit.total_fen == 0 and visit.exit_lane_id == "exit-1"
    assert len(published.commands(EXIT, "open_gate")) == 1


def test_exit_with_a_fee_due_keeps_the_gate_closed_and_shows_the_amount(demo, published: Recorder) -> None:
    enter(at=T0)
    result = leave(at=T0 + timedelta(minutes=61))  # 3 started half hours at 2.50
    assert result["result"] == "payment_required" and result["due_fen"] == 750
    assert published.commands(EXIT, "open_gate") == []
    [shown] = published.commands(EXIT, "display")
    assert shown["lines"] == [PLATE, "请缴费 7.50元"]
    [visit] = visits()
    assert visit.status == INSIDE and visit.waiting_exit_device_id == EXIT


def test_an_exit_without_an_entry_stays_closed_and_leaves_a_record(demo, published: Recorder) -> None:
    result = leave("粤C00001")
    assert result["result"] == "unmatched_exit"
    assert published.commands(EXIT, "open_gate") == []
    assert len(list(Record.query("demo-lot", Record.record_key.startswith("unmatched_exit#")))) == 1


def test_an_unreadable_plate_still_gets_a_visit_under_a_placeholder(demo, published: Recorder) -> None:
    result = enter(plate="")
    assert result["result"] == "entered"
    opened = published.commands(ENTRY, "open_gate")
    assert len(opened) == 1


def _dead_letters() -> list[DeadLetter]:
    return list(DeadLetter.query("gate/capture"))


def test_a_payload_that_is_not_json_is_refused_dead_lettered_and_the_next_capture_works(
    demo, published: Recorder
) -> None:
    result = handlers.on_capture(iot_event(ENTRY, "capture", b"{not json"), T0)
    assert result["result"] == "rejected" and "not JSON" in result["reason"]
    [letter] = _dead_letters()
    assert "not JSON" in letter.reason and letter.payload == "{not json" and letter.device_id == ENTRY
    [error] = published.errors(ENTRY)
    assert error["code"] == "invalid_message" and "not JSON" in error["reason"]
    assert enter()["result"] == "entered"
    assert len(published.commands(ENTRY, "open_gate")) == 1


def test_messages_with_bad_fields_are_refused_with_their_reason(demo, published: Recorder) -> None:
    bad = {
        "missing plate": (
            {k: v for k, v in capture(ENTRY, "in", PLATE).items() if k != "plate"},
            "plate is required",
        ),
        "colour out of range": (capture(ENTRY, "in", PLATE, plate_color=9), "plate_color must be 0..5"),
        "float confidence": (capture(ENTRY, "in", PLATE, confidence=95.5), "confidence must be an integer"),
        "wrong direction": (capture(ENTRY, "out", PLATE), "is an 'in' lane"),
        "another device's id": (capture("demo-exit-cam", "in", PLATE), "does not match the topic"),
        "a list": ([1, 2], "JSON object"),
    }
    for name, (payload, reason) in bad.items():
        raw = json.dumps(payload).encode()
        result = handlers.on_capture(iot_event(ENTRY, "capture", raw), T0)
        assert result["result"] == "rejected", name
        assert reason in result["reason"], (name, result["reason"])
    assert len(_dead_letters()) == len(bad)
    assert visits() == []
    assert published.commands(ENTRY, "open_gate") == []


def test_an_unknown_device_is_refused(demo, published: Recorder) -> None:
    result = handlers.on_capture(iot_event("ghost-cam", "capture", capture("ghost-cam", "in", PLATE)), T0)
    assert result["result"] == "rejected" and "unknown device" in result["reason"]


def test_status_messages_mark_the_device_online(demo, published: Recorder) -> None:
    from chalicelib.platform.models import Device

    status = {"message_id": "s-1", "device_id": ENTRY, "state": "online", "barrier": "closed"}
    assert handlers.on_status(iot_event(ENTRY, "status", status), T0)["result"] == "recorded"
    device = Device.get(ENTRY)
    assert device.online is True and device.barrier == "closed" and device.last_seen_at == T0
