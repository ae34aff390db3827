"""Commands to devices (gate commands, OCPP calls): built by one builder, recorded in the same
transaction as the state change that caused them (or just before they are sent), published
after the commit, and tracked to a final status (acked, failed, timed out)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.platform.downlink import get_publisher
from chalicelib.platform.models import ACKED, FAILED, PENDING_SHARD, SENT, TIMED_OUT, Command
from chalicelib.shared.settings import get_settings

COMMAND_TTL = timedelta(days=30)


@dataclass(frozen=True)
class OutgoingCommand:
    """A command to one device: what is published (`message`, on `topic`) and what is kept with
    its record (`meta`, e.g. the OCPP action's payload and the session it belongs to)."""

    device_id: str
    correlation_id: str
    command: str
    topic: str
    message: Any
    meta: dict[str, Any] = field(default_factory=dict)

    def record(self, now: datetime) -> Command:
        return Command(
            self.device_id,
            self.correlation_id,
            command=self.command,
            body=self.meta or (self.message if isinstance(self.message, dict) else {}),
            status=SENT,
            pending_shard=PENDING_SHARD,
            sent_at=now,
            ttl=now + COMMAND_TTL,
        )


def publish(commands: list[OutgoingCommand]) -> None:
    """Send committed commands. A failed publish leaves the command `sent`; the sweeper then marks
    it timed out, so it is visible to staff rather than lost."""
    publisher = get_publisher()
    for command in commands:
        publisher.publish(command.topic, command.message)


def send(command: OutgoingCommand, now: datetime) -> Command:
    """Record one command on its own and publish it (calls that are not part of a transaction)."""
    record = command.record(now)
    record.save()
    publish([command])
    return record


def acknowledge(device_id: str, correlation_id: str, ok: bool, detail: str, now: datetime) -> bool:
    """Record a device's answer. False for unknown, repeated or late answers (nothing changes)."""
    command = Command(device_id, correlation_id)
    try:
        command.update(
            actions=[
                Command.status.set(ACKED if ok else FAILED),
                Command.finished_at.set(now),
                *([Command.detail.set(detail[:500])] if detail else []),
                Command.pending_shard.remove(),
            ],
            condition=Command.status == SENT,
        )
    except UpdateError:
        return False
    return True


def get(device_id: str, correlation_id: str) -> Command | None:
    try:
        return Command.get(device_id, correlation_id, consistent_read=True)
    except Command.DoesNotExist:
        return None


def recent(device_id: str, limit: int = 100) -> list[Command]:
    return list(Command.query(device_id, scan_index_forward=False, limit=limit))


def sweep_timeouts(now: datetime) -> int:
    """Mark commands that got no answer within the timeout as timed out."""
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
