"""Parsing and validation of the messages gate devices send (docs/mqtt.md): capture, ack and
status, from the envelope the IoT rule hands over. Pure; a message that cannot be processed
raises InvalidMessage with the reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.platform.envelope import Envelope, InvalidMessage, json_object
from chalicelib.shared.timeutil import parse_iso
from chalicelib.shared.validation import is_whole


@dataclass(frozen=True)
class Capture:
    message_id: str
    device_id: str
    lane_id: str | None
    direction: str
    plate: str
    plate_color: int
    vehicle_type: int
    confidence: int | None
    image_key: str | None
    device_time: datetime | None


@dataclass(frozen=True)
class Ack:
    message_id: str
    device_id: str
    correlation_id: str
    result: str
    detail: str


GATE_EVENTS = ("tailgating", "remote_control_open", "abnormal_capture")


@dataclass(frozen=True)
class GateEvent:
    """What the gate itself saw (docs/mqtt.md, up/event): a second car through before the
    barrier closed, the barrier opened by its remote control, or a capture never followed by a
    release before the next one (`ref_message_id`: that first capture)."""

    message_id: str
    device_id: str
    event: str
    plate: str
    ref_message_id: str | None
    device_time: datetime | None


@dataclass(frozen=True)
class Status:
    message_id: str
    device_id: str
    state: str
    barrier: str | None
    device_time: datetime | None


def _str(data: dict[str, Any], name: str, *, required: bool = True, max_len: int = 128) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidMessage(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{name} must be a string")
    if required and not value.strip():
        raise InvalidMessage(f"{name} must not be empty")
    if len(value) > max_len:
        raise InvalidMessage(f"{name} is longer than {max_len} characters")
    if "\x00" in value:
        raise InvalidMessage(f"{name} contains a NUL character")
    return value


def _int(data: dict[str, Any], name: str, allowed: range, default: int | None = None) -> int | None:
    value = data.get(name, default)
    if value is None:
        return None
    if not is_whole(value):
        raise InvalidMessage(f"{name} must be an integer")
    if value not in allowed:
        raise InvalidMessage(f"{name} must be {allowed.start}..{allowed.stop - 1}")
    return value


def _time(data: dict[str, Any], name: str) -> datetime | None:
    text = _str(data, name, required=False, max_len=40)
    if text is None:
        return None
    try:
        return parse_iso(text)
    except (ValueError, OverflowError) as exc:
        raise InvalidMessage(f"{name} must be ISO 8601 with an offset") from exc


def _common(env: Envelope) -> tuple[dict[str, Any], str, str]:
    data = json_object(env.raw)
    message_id = _str(data, "message_id")
    device_id = _str(data, "device_id")
    assert message_id is not None and device_id is not None
    if device_id != env.topic_device_id:
        raise InvalidMessage("device_id does not match the topic's device")
    return data, message_id, device_id


def parse_capture(env: Envelope) -> Capture:
    data, message_id, device_id = _common(env)
    direction = _str(data, "direction")
    if direction not in ("in", "out"):
        raise InvalidMessage("direction must be 'in' or 'out'")
    plate = data.get("plate")
    if not isinstance(plate, str):
        raise InvalidMessage("plate is required (use an empty string for an unreadable plate)")
    if len(plate) > 16:
        raise InvalidMessage("plate is longer than 16 characters")
    if "\x00" in plate or not plate.isprintable():
        raise InvalidMessage("plate contains a control character")
    plate_color = _int(data, "plate_color", range(0, 6), default=0)
    vehicle_type = _int(data, "vehicle_type", range(0, 5), default=0)
    assert plate_color is not None and vehicle_type is not None
    return Capture(
        message_id=message_id,
        device_id=device_id,
        lane_id=_str(data, "lane_id", required=False),
        direction=direction,
        plate=plate,
        plate_color=plate_color,
        vehicle_type=vehicle_type,
        confidence=_int(data, "confidence", range(0, 101)),
        image_key=_str(data, "image_key", required=False, max_len=512),
        device_time=_time(data, "device_time"),
    )


def parse_ack(env: Envelope) -> Ack:
    data, message_id, device_id = _common(env)
    correlation_id = _str(data, "correlation_id")
    result = _str(data, "result")
    if result not in ("ok", "failed"):
        raise InvalidMessage("result must be 'ok' or 'failed'")
    assert correlation_id is not None
    return Ack(
        message_id, device_id, correlation_id, result, _str(data, "detail", required=False, max_len=256) or ""
    )


def parse_status(env: Envelope) -> Status:
    data, message_id, device_id = _common(env)
    state = _str(data, "state")
    if state not in ("online", "offline"):
        raise InvalidMessage("state must be 'online' or 'offline'")
    barrier = _str(data, "barrier", required=False, max_len=16)
    assert state is not None
    return Status(message_id, device_id, state, barrier, _time(data, "device_time"))


def parse_event(env: Envelope) -> GateEvent:
    data, message_id, device_id = _common(env)
    event = _str(data, "event", max_len=32)
    if event not in GATE_EVENTS:
        raise InvalidMessage(f"event must be one of {', '.join(GATE_EVENTS)}")
    plate = data.get("plate", "")
    if not isinstance(plate, str) or len(plate) > 16 or "\x00" in plate or not plate.isprintable():
        raise InvalidMessage("plate must be text of at most 16 characters")
    assert event is not None
    return GateEvent(
        message_id,
        device_id,
        event,
        plate,
        _str(data, "ref_message_id", required=False),
        _time(data, "device_time"),
    )
