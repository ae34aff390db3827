"""Dead letters: a message that cannot be processed is kept with its reason, never dropped."""

from __future__ import annotations

from datetime import datetime, timedelta

from chalicelib.ids import sortable_id
from chalicelib.models.dead_letters import DeadLetter

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
