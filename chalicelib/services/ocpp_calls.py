"""Calls parkcharge sends to chargers (RemoteStartTransaction, RemoteStopTransaction, Reset,
ChangeAvailability, TriggerMessage). Each is kept as a command (charger, message id, action)
until its answer arrives or it times out, so every command ends with a final status; a charger
that is offline is refused at once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from chalicelib.devices import charger_topics, ocpp
from chalicelib.devices.downlink import get_publisher
from chalicelib.errors import Conflict
from chalicelib.models.charging import Charger
from chalicelib.models.commands import PENDING_SHARD, SENT, Command
from chalicelib.services import commands

KEEP = timedelta(days=30)
STAFF_ACTIONS = ("Reset", "ChangeAvailability", "TriggerMessage", "RemoteStopTransaction")


def send(
    charger: Charger, action: str, payload: dict[str, Any], now: datetime, session_id: str | None = None
) -> Command:
    from chalicelib.services.charging import is_online

    if not is_online(charger, now):
        raise Conflict(
            f"charger {charger.charger_id} is offline; the command was not sent", "charger_offline"
        )
    message_id = secrets.token_hex(8)
    command = Command(
        charger.charger_id,
        message_id,
        command=action,
        body={"action": action, "payload": payload, "session_id": session_id},
        status=SENT,
        pending_shard=PENDING_SHARD,
        sent_at=now,
        ttl=now + KEEP,
    )
    command.save()
    get_publisher().publish(
        charger_topics.down(charger.charger_id), ocpp.call_frame(message_id, action, payload)
    )
    return command


def answered(charger_id: str, message_id: str, ok: bool, detail: str, now: datetime) -> bool:
    """Record the charger's answer once; False for unknown or repeated answers."""
    return commands.acknowledge(charger_id, message_id, ok, detail[:500], now)
