"""Commands to devices (gate commands, OCPP calls): built by one builder, recorded in the same
transaction as the state change that caused them (the record is the outbox), published after the
commit, re-published until acknowledged or expired, and tracked to a final status (acked,
failed, timed out).

Nothing committed is lost to a failed publish:
- `publish` retries each command a few times at once;
- `resend_pending(device_id)` re-publishes a device's unacknowledged, unexpired commands on its
  next status report, a repeated capture and on reconnect (not on an ack, whose neighbours' acks
  are usually still on the way);
- `resend_unsent(device_id)` does the same on a new capture only when a publish to that device
  failed in this process (a new capture otherwise costs no read of the outbox: the gate path's
  round trips);
- `sweep` (the platform's schedule) re-publishes every such command and times out the expired
  ones, counting them per site for the site-wide timeout alarm.
Devices de-duplicate by correlation id (docs/mqtt.md), so a command published again is harmless;
a command the device acknowledged is never published again.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.platform.downlink import get_publisher
from chalicelib.platform.models import ACKED, FAILED, PENDING_SHARD, SENT, TIMED_OUT, Command
from chalicelib.shared.db import transaction
from chalicelib.shared.settings import get_settings

log = logging.getLogger(__name__)

# Devices a publish failed to in this process (a Lambda container), until their commands are
# published again: their next capture re-publishes without waiting for a status or the sweeper.
_unsent: set[str] = set()

COMMAND_TTL = timedelta(days=30)
PUBLISH_ATTEMPTS = 3
PUBLISH_BACKOFF_SECONDS = 0.05
# A command whose last publish went out is left alone this long (its ack is still on the way):
# by the sweeper, and on the device's next message. One whose publish failed is due at once.
RESEND_AFTER = timedelta(seconds=5)
DEVICE_RESEND_AFTER = timedelta(seconds=2)
# Each re-publish doubles the wait before the next one (2 s, 4 s, 8 s … on device messages),
# up to 2**MAX_BACKOFF_DOUBLINGS times the first wait: a device whose acks lag behind a
# backlog is not sent every waiting command again on each of its messages (which made more acks,
# more backlog and more re-publishes).
MAX_BACKOFF_DOUBLINGS = 5


def resend_due(
    publish_failed: bool, last_published: datetime, republished: int, settle: timedelta, now: datetime
) -> bool:
    """Whether a waiting command is published again now: at once when its publish failed,
    otherwise once its last publish is `settle` old, doubled for each re-publish so far."""
    if publish_failed:
        return True
    return now - last_published >= settle * (2 ** min(max(republished, 0), MAX_BACKOFF_DOUBLINGS))


@dataclass(frozen=True)
class OutgoingCommand:
    """A command to one device: what is published (`message`, on `topic`) and what is kept with
    its record (`meta`, e.g. the OCPP action's payload and the session it belongs to).
    `valid_until`: the command's own validity (open_gate's `expires_at`); the command timeout
    caps it."""

    device_id: str
    correlation_id: str
    command: str
    topic: str
    message: Any
    meta: dict[str, Any] = field(default_factory=dict)
    valid_until: datetime | None = None

    def expires_at(self, now: datetime) -> datetime:
        timeout = now + timedelta(seconds=get_settings().command_timeout_seconds)
        return min(self.valid_until, timeout) if self.valid_until is not None else timeout

    def record(self, now: datetime) -> Command:
        return Command(
            self.device_id,
            self.correlation_id,
            command=self.command,
            body=self.meta or (self.message if isinstance(self.message, dict) else {}),
            status=SENT,
            pending_shard=PENDING_SHARD,
            pending_device=self.device_id,
            sent_at=now,
            expires_at=self.expires_at(now),
            topic=self.topic,
            message=self.message,
            ttl=now + COMMAND_TTL,
        )


def _publish_one(topic: str, message: Any) -> bool:
    publisher = get_publisher()
    for attempt in range(PUBLISH_ATTEMPTS):
        try:
            publisher.publish(topic, message)
            return True
        except Exception:  # the data plane throttled or failed: the outbox keeps the command
            log.warning("publish failed", extra={"topic": topic, "attempt": attempt + 1}, exc_info=True)
            if attempt + 1 < PUBLISH_ATTEMPTS:
                time.sleep(PUBLISH_BACKOFF_SECONDS * (attempt + 1))
    return False


def publish(commands: list[OutgoingCommand]) -> list[OutgoingCommand]:
    """Send committed commands, each retried a few times; returns those still not sent. They stay
    `sent` in the outbox, marked as not published, and the resender publishes them again until
    acked or expired."""
    failed = [c for c in commands if not _publish_one(c.topic, c.message)]
    for command in failed:
        _mark_failed(command.device_id, command.correlation_id)
        _unsent.add(command.device_id)
    return failed


def _mark_failed(device_id: str, correlation_id: str) -> None:
    """Best effort: without the mark the command is still re-published, only a little later."""
    try:
        Command(device_id, correlation_id).update(
            actions=[Command.publish_failed.set(True)], condition=Command.status == SENT
        )
    except Exception:
        log.warning("could not mark a failed publish", extra={"correlation_id": correlation_id})


def send(
    command: OutgoingCommand, now: datetime, also: Callable[[TransactWrite], object] | None = None
) -> Command:
    """Record one command and publish it (calls that are not part of a larger transaction);
    `also` adds items to the same transaction (the audit entry of a staff member's command)."""
    record = command.record(now)
    if also is None:
        record.save()
    else:
        with transaction() as tx:
            tx.save(record)
            also(tx)
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
                Command.pending_device.remove(),
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


def _expiry(command: Command) -> datetime:
    if command.expires_at is not None:
        return command.expires_at
    return command.sent_at + timedelta(seconds=get_settings().command_timeout_seconds)


def _time_out(command: Command, now: datetime) -> bool:
    try:
        command.update(
            actions=[
                Command.status.set(TIMED_OUT),
                Command.finished_at.set(now),
                Command.pending_shard.remove(),
                Command.pending_device.remove(),
            ],
            condition=Command.status == SENT,
        )
    except UpdateError:
        return False
    return True


def _republish(command: Command, now: datetime) -> bool:
    """Publish the recorded message again, while the command is still waiting for its ack."""
    if command.topic is None or command.message is None:
        return False  # recorded before the outbox kept its message
    if not _publish_one(str(command.topic), command.message):
        _unsent.add(str(command.device_id))
        return False
    try:
        command.update(
            actions=[
                Command.publish_count.add(1),
                Command.last_published_at.set(now),
                Command.publish_failed.remove(),
            ],
            condition=Command.status == SENT,
        )
    except UpdateError:
        return False  # acknowledged meanwhile
    return True


@dataclass
class SweepResult:
    resent: int = 0
    timed_out: int = 0
    timed_out_by_site: Counter[str] = field(default_factory=Counter)


def _sweep(pending: list[Command], now: datetime, settle: timedelta) -> SweepResult:
    from chalicelib.platform import registry

    result = SweepResult()
    for command in sorted(pending, key=lambda c: c.sent_at):  # oldest first: the newest ends last
        if now >= _expiry(command):
            if _time_out(command, now):
                result.timed_out += 1
                device = registry.info(command.device_id)
                site = (device.lot_id or device.station_id) if device is not None else None
                result.timed_out_by_site[site or "unknown"] += 1
            continue
        last = command.last_published_at or command.sent_at
        due = resend_due(bool(command.publish_failed), last, int(command.publish_count or 0), settle, now)
        if due and _republish(command, now):
            result.resent += 1
    return result


def resend_pending(device_id: str, now: datetime, exclude: set[str] | None = None) -> SweepResult:
    """The device just spoke (a message, a repeated message, a reconnect): publish again every
    command of it that was committed, is not acknowledged and has not expired, and whose publish
    failed or went out a moment ago already (`exclude`: the ones just published)."""
    skip = exclude or set()
    _unsent.discard(device_id)
    pending = [c for c in Command.pending_by_device.query(device_id) if c.correlation_id not in skip]
    return _sweep(pending, now, DEVICE_RESEND_AFTER)


def resend_unsent(device_id: str, now: datetime, exclude: set[str] | None = None) -> SweepResult:
    """A new message of the device: `resend_pending` only when a publish to it failed in this
    process; otherwise nothing is read (its status reports, reconnects and the sweeper re-publish
    what another process failed to send)."""
    if device_id not in _unsent:
        return SweepResult()
    return resend_pending(device_id, now, exclude)


def sweep(now: datetime) -> SweepResult:
    """The schedule: re-publish every waiting command whose last publish is a few seconds old,
    and time out the expired ones."""
    return _sweep(list(Command.pending.query(PENDING_SHARD)), now, RESEND_AFTER)


def sweep_timeouts(now: datetime) -> int:
    """Mark commands past their validity as timed out (and re-publish the others)."""
    return sweep(now).timed_out
