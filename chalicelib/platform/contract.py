"""The platform's typed HTTP output (msgspec Structs) for the OpenAPI document."""

from __future__ import annotations

from typing import Any

import msgspec

from chalicelib.shared.types import Timestamp


class DeviceCommandOut(msgspec.Struct):
    correlation_id: str
    command: str
    status: str
    sent_at: Timestamp
    finished_at: Timestamp | None
    detail: Any


class DeviceCommandsOut(msgspec.Struct):
    device_id: str
    commands: list[DeviceCommandOut]


class HealthOut(msgspec.Struct):
    status: str
    stage: str
