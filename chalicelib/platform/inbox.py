"""The inbox of device messages already handled: exactly-once processing of QoS 1 repeats.

One design for every device message: the marker is keyed by (device, message id) and holds the
outcome (for OCPP, the answer frame the first copy got, so a repeat gets the same answer).
Where the effect is one transaction, the marker is its first item (`add`), so a repeat fails on
it and changes nothing; otherwise `remember` after the effect and `seen` before it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import PutError
from pynamodb.transactions import TransactWrite

from chalicelib.platform.models import DeviceMessage, message_key

KEEP = timedelta(days=7)


def marker(device_id: str, message_id: str, kind: str, outcome: str, now: datetime) -> DeviceMessage:
    return DeviceMessage(
        message_key(device_id, message_id), kind=kind, outcome=outcome, received_at=now, ttl=now + KEEP
    )


def add(tx: TransactWrite, device_id: str, message_id: str, kind: str, outcome: str, now: datetime) -> None:
    """The "handled" marker as an item of the effect's transaction (fails it for a repeat)."""
    tx.save(
        marker(device_id, message_id, kind, outcome, now),
        condition=DeviceMessage.message_key.does_not_exist(),
    )


def seen(device_id: str, message_id: str) -> str | None:
    """The outcome recorded for a message already handled, or None."""
    try:
        return str(DeviceMessage.get(message_key(device_id, message_id), consistent_read=True).outcome)
    except DeviceMessage.DoesNotExist:
        return None


def remember(device_id: str, message_id: str, kind: str, outcome: str, now: datetime) -> str:
    """Record the outcome once; when a concurrent copy recorded one first, that one is returned."""
    try:
        marker(device_id, message_id, kind, outcome, now).save(
            condition=DeviceMessage.message_key.does_not_exist()
        )
    except PutError:
        return seen(device_id, message_id) or outcome
    return outcome
