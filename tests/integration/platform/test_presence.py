"""IoT lifecycle events mark devices (chargers and gates alike) online and offline, in event order."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from chalice.test import Client

from tests.support.charger import CHARGER


def test_lifecycle_events_mark_devices_online_and_offline_in_order(client: Client) -> None:
    from chalicelib.platform import presence
    from chalicelib.platform.models import Device

    def event(kind: str, client_id: str, millis: int) -> dict[str, Any]:
        raw = json.dumps({"clientId": client_id, "eventType": kind, "timestamp": millis}).encode()
        return {
            "payload_b64": base64.b64encode(raw).decode(),
            "topic": f"$aws/events/presence/{kind}/{client_id}",
            "topic_device_id": client_id,
            "received_at": millis,
        }

    t = int(datetime.now(UTC).timestamp() * 1000)
    now = datetime.now(UTC)
    assert presence.on_presence(event("connected", CHARGER, t), now)["online"] is True
    assert Device.get(CHARGER).online is True
    assert presence.on_presence(event("disconnected", CHARGER, t + 1000), now)["online"] is False
    late = presence.on_presence(event("connected", CHARGER, t + 500), now)  # older than the last event
    assert late["result"] == "ignored" and Device.get(CHARGER).online is False
    assert presence.on_presence(event("connected", "demo-entry-cam", t), now)["result"] == "recorded"
    assert Device.get("demo-entry-cam").online is True
    assert presence.on_presence(event("connected", "stranger", t), now)["result"] == "ignored"
