"""What an IoT rule hands a device-message function: the raw payload (base64) with the topic and
the topic's thing name (docs/mqtt.md). Pure; each context parses its own messages from it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import msgspec

from chalicelib.shared.validation import is_whole

MAX_PAYLOAD_BYTES = 128 * 1024  # IoT Core's message size limit


class InvalidMessage(ValueError):
    """A device message that cannot be processed; str(exc) is the reason."""


@dataclass(frozen=True)
class Envelope:
    topic: str
    topic_device_id: str
    received_at_ms: int | None
    raw: bytes


def envelope(event: Any) -> Envelope:
    """Unwrap the IoT rule event (`payload_b64`, `topic`, `topic_device_id`, `received_at`)."""
    if not isinstance(event, dict):
        raise InvalidMessage("event is not an object")
    device = event.get("topic_device_id")
    if not isinstance(device, str) or not device:
        raise InvalidMessage("topic has no device id")
    raw_b64 = event.get("payload_b64")
    if not isinstance(raw_b64, str):
        raise InvalidMessage("payload missing")
    try:
        raw = base64.b64decode(raw_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidMessage("payload is not valid base64") from exc
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(f"payload is larger than {MAX_PAYLOAD_BYTES} bytes")
    received = event.get("received_at")
    return Envelope(
        topic=str(event.get("topic", "")),
        topic_device_id=device,
        received_at_ms=received if is_whole(received) else None,
        raw=raw,
    )


def json_object(raw: bytes) -> dict[str, Any]:
    """The payload as a JSON object; anything else (not UTF-8, not JSON, a lone surrogate, a
    number out of range, nested too deep, not an object) is an InvalidMessage with the reason."""
    try:
        data = msgspec.json.decode(raw)
    except msgspec.ValidationError as exc:
        raise InvalidMessage(f"payload has a value out of range: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise InvalidMessage(f"payload is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise InvalidMessage("payload is nested too deeply") from exc
    if not isinstance(data, dict):
        raise InvalidMessage("payload must be a JSON object")
    return data


def message_id_of(raw: bytes) -> str | None:
    """The `message_id` of a payload, when it can be read (for the rejection's reference)."""
    try:
        data = json_object(raw)
    except InvalidMessage:
        return None
    value = data.get("message_id")
    return value if isinstance(value, str) and len(value) <= 128 and "\x00" not in value else None
