"""Device state from status messages."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import UpdateError
from pynamodb.expressions.update import Action

from chalicelib.models.devices import Device


def record_status(device_id: str, online: bool, barrier: str | None, now: datetime) -> bool:
    actions: list[Action] = [Device.online.set(online), Device.last_seen_at.set(now)]
    if barrier is not None:
        actions.append(Device.barrier.set(barrier))
    try:
        Device(device_id).update(actions=actions, condition=Device.device_id.exists())
    except UpdateError:
        return False
    return True
