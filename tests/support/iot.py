"""The IoT side of the integration tests: a recorder in place of the IoT data plane, and builders
of the events the gate rules (iot-rules/gate_*.json) hand to the functions."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any


class Recorder:
    """Stands in for the IoT data plane (an AWS service, not our code): keeps what was published."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))

    def commands(self, device_id: str, command: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for t, m in self.messages
            if t == f"parkcharge/gate/{device_id}/down/command"
            and (command is None or m["command"] == command)
        ]

    def errors(self, device_id: str) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if t == f"parkcharge/gate/{device_id}/down/error"]

    def clear(self) -> None:
        self.messages.clear()


def iot_event(
    device_id: str, kind: str, payload: bytes | dict[str, Any], received_at: int = 0
) -> dict[str, Any]:
    """The event the IoT rule in iot-rules/gate_<kind>.json hands to the function."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    topic = f"parkcharge/gate/{device_id}/up/{kind}"
    return {
        "payload_b64": base64.b64encode(raw).decode(),
        "topic": topic,
        "topic_device_id": device_id,
        "received_at": received_at,
    }


def capture(device_id: str, direction: str, plate: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "device_id": device_id,
        "direction": direction,
        "plate": plate,
        "plate_color": 1,
        "vehicle_type": 1,
        "confidence": 95,
    }
    body.update(extra)
    return body
