"""The device registry: one namespace of IoT thing names for gate devices, chargers and locks.

Every context registers its devices here (a device id that exists, of any kind or operator, is
refused without saying whose it is) and reads their installation and online state from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.platform.models import Device
from chalicelib.shared.cache import cache
from chalicelib.shared.errors import Conflict
from chalicelib.shared.settings import get_settings


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    operator_id: str
    kind: str
    lot_id: str | None
    lane_id: str | None
    station_id: str | None


_cache = cache("devices", get_settings().config_cache_seconds)


def _info(item: Device) -> DeviceInfo:
    return DeviceInfo(item.device_id, item.operator_id, item.kind, item.lot_id, item.lane_id, item.station_id)


def info(device_id: str) -> DeviceInfo | None:
    """Where a device is installed (cached per container; unknown ids are cached too, so a
    misconfigured device cannot hammer the table)."""
    hit = _cache.get(device_id)
    if hit is not None:
        return hit if isinstance(hit, DeviceInfo) else None
    item = get(device_id, consistent=False)
    found = _info(item) if item is not None else None
    _cache.put(device_id, found if found is not None else False)
    return found


def get(device_id: str, consistent: bool = True) -> Device | None:
    try:
        return Device.get(device_id, consistent_read=consistent)
    except Device.DoesNotExist:
        return None


def register(
    device_id: str,
    kind: str,
    operator_id: str,
    *,
    lot_id: str | None = None,
    lane_id: str | None = None,
    station_id: str | None = None,
) -> Device:
    device = Device(
        device_id, operator_id=operator_id, kind=kind, lot_id=lot_id, lane_id=lane_id, station_id=station_id
    )
    try:
        device.save(condition=Device.device_id.does_not_exist())
    except PutError as exc:
        raise Conflict("a device with this id exists", "device_exists") from exc
    _cache.clear()
    return device


def seen(device_id: str, now: datetime) -> None:
    """A message arrived from the device: it is online now."""
    try:
        Device(device_id).update(
            actions=[Device.online.set(True), Device.last_seen_at.set(now)],
            condition=Device.device_id.exists(),
        )
    except UpdateError:
        return


def record_status(device_id: str, online: bool, barrier: str | None, now: datetime) -> bool:
    actions: list[Action] = [Device.online.set(online), Device.last_seen_at.set(now)]
    if barrier is not None:
        actions.append(Device.barrier.set(barrier))
    try:
        Device(device_id).update(actions=actions, condition=Device.device_id.exists())
    except UpdateError:
        return False
    return True


def mark_presence(device_id: str, online: bool, at: datetime) -> bool:
    """A lifecycle event; an event older than the last one recorded changes nothing."""
    newer = Device.last_seen_at.does_not_exist() | (Device.last_seen_at <= at)
    try:
        Device(device_id).update(
            actions=[Device.online.set(online), Device.last_seen_at.set(at)],
            condition=Device.device_id.exists() & newer,
        )
    except UpdateError:
        return False
    return True
