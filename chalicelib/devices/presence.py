"""IoT lifecycle events: `$aws/events/presence/{connected|disconnected}/{clientId}`. A device's
client id is its thing name; the event marks the charger or gate device online or offline.
Events can arrive out of order: an event older than the last one recorded changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.devices import schemas
from chalicelib.devices.schemas import InvalidMessage
from chalicelib.models.charging import Charger
from chalicelib.models.devices import Device
from chalicelib.services import dead_letters


def on_presence(event: Any, now: datetime) -> dict[str, Any]:
    try:
        env = schemas.envelope(event)
        data = json.loads(env.raw)
        kind = data.get("eventType") if isinstance(data, dict) else None
        if kind not in ("connected", "disconnected"):
            raise InvalidMessage("eventType must be connected or disconnected")
        millis = data.get("timestamp")
        at = datetime.fromtimestamp(millis / 1000, UTC) if isinstance(millis, int) else now
    except (InvalidMessage, ValueError) as exc:
        dead_letters.store("presence", str(exc), json.dumps(event, default=str), now)
        return {"result": "rejected", "reason": str(exc)}
    online = kind == "connected"
    device_id = env.topic_device_id
    newer_charger = Charger.last_seen_at.does_not_exist() | (Charger.last_seen_at <= at)
    newer_device = Device.last_seen_at.does_not_exist() | (Device.last_seen_at <= at)
    updates: list[tuple[Any, Any, Any]] = [
        (
            Charger(device_id),
            [Charger.online.set(online), Charger.last_seen_at.set(at)],
            Charger.charger_id.exists() & newer_charger,
        ),
        (
            Device(device_id),
            [Device.online.set(online), Device.last_seen_at.set(at)],
            Device.device_id.exists() & newer_device,
        ),
    ]
    for item, actions, condition in updates:
        try:
            item.update(actions=actions, condition=condition)
            return {"result": "recorded", "online": online}
        except UpdateError:
            continue
    return {"result": "ignored", "reason": "not a known device, or an older event"}
