"""Configuration read on every gate event (device → lot → lanes, tariff), cached in the Lambda
container for `PARKCHARGE_CONFIG_CACHE_SECONDS` so the gate path does not re-read it."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from chalicelib.domain.tariff import HourlyTariff
from chalicelib.models.devices import Device
from chalicelib.models.lots import Lane, Lot
from chalicelib.settings import get_settings


@dataclass(frozen=True)
class DeviceInfo:
    device_id: str
    operator_id: str
    lot_id: str
    lane_id: str


@dataclass(frozen=True)
class LaneInfo:
    lane_id: str
    direction: str
    gate_id: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class LotConfig:
    lot_id: str
    operator_id: str
    name: str
    timezone: str
    grace: timedelta
    tariff: HourlyTariff
    lanes: dict[str, LaneInfo]


class _TtlCache:
    def __init__(self) -> None:
        self._items: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Any | None:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return None
        return hit[1]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + get_settings().config_cache_seconds, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _TtlCache()


def clear_cache() -> None:
    _cache.clear()


def device(device_id: str) -> DeviceInfo | None:
    key = f"device:{device_id}"
    hit = _cache.get(key)
    if hit is not None:
        return hit if isinstance(hit, DeviceInfo) else None
    try:
        item = Device.get(device_id)
        info: DeviceInfo | None = DeviceInfo(item.device_id, item.operator_id, item.lot_id, item.lane_id)
    except Device.DoesNotExist:
        info = None
    # Unknown devices are cached too (as False) so a misconfigured camera cannot hammer the table.
    _cache.put(key, info if info is not None else False)
    return info


def lot(lot_id: str) -> LotConfig | None:
    key = f"lot:{lot_id}"
    hit = _cache.get(key)
    if hit is not None:
        return hit if isinstance(hit, LotConfig) else None
    try:
        item = Lot.get(lot_id)
    except Lot.DoesNotExist:
        _cache.put(key, False)
        return None
    lanes = {
        lane.lane_id: LaneInfo(
            lane.lane_id, lane.direction, lane.gate_id, tuple(str(d) for d in lane.device_ids or [])
        )
        for lane in Lane.query(lot_id)
    }
    config = LotConfig(
        lot_id=item.lot_id,
        operator_id=item.operator_id,
        name=item.name,
        timezone=item.timezone,
        grace=timedelta(minutes=int(item.grace_minutes)),
        tariff=HourlyTariff.from_dict(item.tariff),
        lanes=lanes,
    )
    _cache.put(key, config)
    return config
