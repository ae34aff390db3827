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
    """Messages an IoT rule could not deliver (its error action's SQS queue), and events an
    IoT-invoked function failed on after its retries (its on-failure destination, the same queue)."""
    for record in records:
        body = str(record.get("body", ""))
        try:
            data = json.loads(body)
        except (ValueError, RecursionError):
            data = {}
        data = data if isinstance(data, dict) else {}
        failures = data.get("failures")
        reason = "IoT rule action failed"
        if isinstance(failures, list) and failures and isinstance(failures[0], dict):
            reason = f"IoT rule action failed: {failures[0].get('errorMessage', '')}"[:1000]
        context, response = data.get("requestContext"), data.get("responsePayload")
        if isinstance(context, dict) and isinstance(response, dict):  # on-failure destination record
            reason = f"{context.get('functionArn')} failed ({context.get('condition')}): "
            reason = (reason + f"{response.get('errorType')}: {response.get('errorMessage')}")[:1000]
            request = data.get("requestPayload")
            data = request if isinstance(request, dict) else {}
        topic = data.get("topic")
        store("iot-rule", reason, body, now, topic=topic if isinstance(topic, str) else None)
    return len(records)
