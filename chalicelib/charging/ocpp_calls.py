"""Calls parkcharge sends to chargers (RemoteStartTransaction, RemoteStopTransaction, Reset,
ChangeAvailability, TriggerMessage). Each is a platform command (charger, message id, action)
kept until its answer arrives or it times out, so every command ends with a final status; a
charger that is offline is refused at once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.charging import ocpp
from chalicelib.charging.domain import sessions as rules
from chalicelib.platform import commands, registry, topics
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.platform.models import Command
from chalicelib.shared.errors import Conflict
from chalicelib.shared.ids import message_id

STAFF_ACTIONS = ("Reset", "ChangeAvailability", "TriggerMessage", "RemoteStopTransaction")


def is_online(charger_id: str, now: datetime) -> bool:
    device = registry.get(charger_id)
    return device is not None and rules.charger_online(bool(device.online), device.last_seen_at, now)


def call(
    charger_id: str, action: str, payload: dict[str, Any], session_id: str | None = None
) -> OutgoingCommand:
    """An OCPP CALL as a command: the frame is what is published, the action's payload and the
    session it belongs to are kept with the record."""
    call_id = message_id()
    return OutgoingCommand(
        charger_id,
        call_id,
        action,
        topics.charger_down(charger_id),
        ocpp.call_frame(call_id, action, payload),
        meta={"action": action, "payload": payload, "session_id": session_id},
    )


def send(
    charger_id: str,
    action: str,
    payload: dict[str, Any],
    now: datetime,
    session_id: str | None = None,
    also: Callable[[TransactWrite], object] | None = None,
) -> Command:
    """`also` adds items to the command's transaction (a staff member's command: its audit entry)."""
    if not is_online(charger_id, now):
        raise Conflict(f"charger {charger_id} is offline; the command was not sent", "charger_offline")
    return commands.send(call(charger_id, action, payload, session_id), now, also)


def answered(charger_id: str, call_id: str, ok: bool, detail: str, now: datetime) -> bool:
    """Record the charger's answer once; False for unknown or repeated answers."""
    return commands.acknowledge(charger_id, call_id, ok, detail, now)
