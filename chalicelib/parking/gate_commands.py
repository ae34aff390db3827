"""The commands a gate device takes (docs/mqtt.md): open the barrier, show lines on the display.
Built with the platform's one command builder; the device de-duplicates by correlation id."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.platform import topics
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso

OPEN_VALID_FOR = timedelta(seconds=30)


def open_gate(device_id: str, lane_id: str, visit_id: str, now: datetime) -> OutgoingCommand:
    correlation_id = sortable_id("cmd", now)
    body = {
        "correlation_id": correlation_id,
        "command": "open_gate",
        "device_id": device_id,
        "lane_id": lane_id,
        "visit_id": visit_id,
        "issued_at": iso(now),
        "expires_at": iso(now + OPEN_VALID_FOR),
    }
    return OutgoingCommand(
        device_id,
        correlation_id,
        "open_gate",
        topics.down(device_id, "command"),
        body,
        valid_until=now + OPEN_VALID_FOR,
    )


def display(device_id: str, lines: tuple[str, ...], now: datetime) -> OutgoingCommand:
    correlation_id = sortable_id("cmd", now)
    body = {
        "correlation_id": correlation_id,
        "command": "display",
        "device_id": device_id,
        "lines": list(lines),
        "issued_at": iso(now),
    }
    return OutgoingCommand(device_id, correlation_id, "display", topics.down(device_id, "command"), body)
