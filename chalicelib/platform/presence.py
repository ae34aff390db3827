"""IoT lifecycle events: `$aws/events/presence/{connected|disconnected}/{clientId}`. A device's
client id is its thing name; the event marks it online or offline in the registry, whatever its
kind. Events can arrive out of order: an event older than the last one recorded changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chalicelib.platform import commands, dead_letters, registry
from chalicelib.platform.envelope import InvalidMessage, envelope, json_object
from chalicelib.shared.validation import is_whole


def on_presence(event: Any, now: datetime) -> dict[str, Any]:
    try:
        env = envelope(event)
        data = json_object(env.raw)
        kind = data.get("eventType")
        if kind not in ("connected", "disconnected"):
            raise InvalidMessage("eventType must be connected or disconnected")
        millis = data.get("timestamp")
        valid = is_whole(millis) and 0 <= millis < 2**53
        at = datetime.fromtimestamp(millis / 1000, UTC) if valid else now  # type: ignore[operator]
    except (InvalidMessage, ValueError, OverflowError, OSError) as exc:
        dead_letters.store("presence", str(exc), json.dumps(event, default=str), now)
        return {"result": "rejected", "reason": str(exc)}
    online = kind == "connected"
    if registry.mark_presence(env.topic_device_id, online, at):
        if online:  # a reconnect: what it missed while away is published again
            commands.resend_pending(env.topic_device_id, now)
        return {"result": "recorded", "online": online}
    return {"result": "ignored", "reason": "not a known device, or an older event"}
