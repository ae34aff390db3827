"""Commands to gate devices: built, recorded in the same transaction as the state change that
caused them, published after the commit, and tracked to a final status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.devices import topics
from chalicelib.devices.downlink import get_publisher
from chalicelib.domain.timeutil import iso
from chalicelib.ids import sortable_id
from chalicelib.models.commands import ACKED, FAILED, PENDING_SHARD, SENT, TIMED_OUT, Command
from chalicelib.settings import get_settings

COMMAND_TTL = timedelta(days=30)
OPEN_VALID_FOR = timedelta(seconds=30)


@dataclass(frozen=True)
class OutgoingCommand:
    device_id: str
    correlation_id: str
    command: str
    body: dict[str, Any]

    def record(self, now: datetime) -> Command:
        return Command(
            self.device_id,
            self.correlation_id,
            command=self.command,
            body=self.body,
            status=SENT,
            pending_shard=PENDING_SHARD,
            sent_at=now,
            ttl=now + COMMAND_TTL,
        )


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
    return OutgoingCommand(device_id, correlation_id, "open_gate", body)


def display(device_id: str, lines: tuple[str, ...], now: datetime) -> OutgoingCommand:
    correlation_id = sortable_id("cmd", now)
    body = {
        "correlation_id": correlation_id,
        "command": "display",
        "device_id": device_id,
        "lines": list(lines),
        "issued_at": iso(now),
    }
    return OutgoingCommand(device_id, correlation_id, "display", body)


def publish(commands: list[OutgoingCommand]) -> None:
    """Send committed commands. A failed publish leaves the command `sent`; the sweeper then marks
    it timed out, so it is visible to staff rather than lost."""
    publisher = get_publisher()
    for command in commands:
        publisher.publish(topics.down(command.device_id, "command"), command.body)


def reject(device_id: str, ref_message_id: str | None, reason: str) -> None:
    get_publisher().publish(
        topics.down(device_id, "error"),
        {"ref_message_id": ref_message_id, "code": "invalid_message", "reason": reason},
    )


def acknowledge(device_id: str, correlation_id: str, ok: bool, detail: str, now: datetime) -> bool:
    """Record a device's ack. Returns False for unknown, repeated or late acks (nothing changes)."""
    command = Command(device_id, correlation_id)
    try:
        command.update(
            actions=[
                Command.status.set(ACKED if ok else FAILED),
                Command.finished_at.set(now),
                *([Command.detail.set(detail)] if detail else []),
                Command.pending_shard.remove(),
            ],
            condition=Command.status == SENT,
        )
    except UpdateError:
        return False
    return True


def sweep_timeouts(now: datetime) -> int:
    """Mark commands that got no ack within the timeout as timed out."""
    cutoff = now - timedelta(seconds=get_settings().command_timeout_seconds)
    count = 0
    for pending in Command.pending.query(PENDING_SHARD, Command.sent_at < cutoff):
        try:
            pending.update(
                actions=[
                    Command.status.set(TIMED_OUT),
                    Command.finished_at.set(now),
                    Command.pending_shard.remove(),
                ],
                condition=Command.status == SENT,
            )
            count += 1
        except UpdateError:
            continue
    return count
