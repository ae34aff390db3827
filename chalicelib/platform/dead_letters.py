"""Dead letters: a message that cannot be processed is kept with its reason, never dropped."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from chalicelib.platform.models import DeadLetter
from chalicelib.shared.ids import sortable_id

KEEP = timedelta(days=90)
MAX_PAYLOAD_CHARS = 32_000


def store(
    source: str,
    reason: str,
    payload: bytes | str,
    now: datetime,
    topic: str | None = None,
    device_id: str | None = None,
) -> DeadLetter:
    text = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else payload
    item = DeadLetter(
        source,
        sortable_id("dl", now),
        reason=reason[:1000],
        topic=topic,
        device_id=device_id,
        payload=text[:MAX_PAYLOAD_CHARS],
        received_at=now,
        ttl=now + KEEP,
    )
    item.save()
    return item


def store_rule_failures(records: list[dict[str, Any]], now: datetime) -> int:
    """Messages an IoT rule could not deliver (its error action's SQS queue)."""
    for record in records:
        body = str(record.get("body", ""))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = {}
        failures = data.get("failures") if isinstance(data, dict) else None
        reason = "IoT rule action failed"
        if isinstance(failures, list) and failures and isinstance(failures[0], dict):
            reason = f"IoT rule action failed: {failures[0].get('errorMessage', '')}"[:1000]
        topic = data.get("topic") if isinstance(data, dict) else None
        store("iot-rule", reason, body, now, topic=topic if isinstance(topic, str) else None)
    return len(records)
