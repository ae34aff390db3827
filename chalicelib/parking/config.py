"""Lot configuration read on every gate event (lot → lanes, tariff plan, tariff versions), cached
in the Lambda container for `PARKCHARGE_CONFIG_CACHE_SECONDS` so the gate path does not re-read
it. Tariff versions never change, so they are kept for the container's life."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.parking.domain import identities, tariffs
from chalicelib.parking.domain.tariffs import Tariff
from chalicelib.parking.identity_models import TYPE, LotIdentity
from chalicelib.parking.models import Lane, Lot, TariffVersion
from chalicelib.shared.cache import cache
from chalicelib.shared.settings import get_settings


@dataclass(frozen=True)
class LaneInfo:
    lane_id: str
    direction: str
    gate_id: str
    device_ids: tuple[str, ...]


@dataclass(frozen=True)
class TariffRef:
    """The tariff versions a vehicle class is priced with (stored on each visit at entry)."""

    tariff_id: str
    version: int
    holiday_tariff_id: str | None = None
    holiday_version: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tariff_id": self.tariff_id,
            "version": self.version,
            "holiday_tariff_id": self.holiday_tariff_id,
            "holiday_version": self.holiday_version,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TariffRef:
        holiday_version = data.get("holiday_version")
        return cls(
            str(data["tariff_id"]),
            int(data["version"]),
            data.get("holiday_tariff_id"),
            int(holiday_version) if holiday_version is not None else None,
        )


@dataclass(frozen=True)
class LotConfig:
    lot_id: str
    operator_id: str
    name: str
    timezone: str
    zone: tzinfo
    grace: timedelta
    plan: dict[str, TariffRef]
    holidays: tuple[date, ...]
    lanes: dict[str, LaneInfo]
    capacity: int = 0
    # Who-is-the-car options and the lot's card types with their own tariffs (docs/identities.md).
    options: identities.Options = field(default_factory=identities.Options)
    card_types: dict[str, identities.CardType] = field(default_factory=dict)
    card_tariffs: dict[str, TariffRef] = field(default_factory=dict)

    def ref_for(self, vehicle_class: str) -> TariffRef | None:
        return self.plan.get(vehicle_class) or self.plan.get("small")


_lots = cache("lots", get_settings().config_cache_seconds)
_tariffs = cache("tariff-versions", None)


def clear_cache() -> None:
    """A lot's configuration changed: re-read it on the next gate event."""
    _lots.clear()


def lot(lot_id: str) -> LotConfig | None:
    key = lot_id
    hit = _lots.get(key)
    if hit is not None:
        return hit if isinstance(hit, LotConfig) else None
    try:
        item = Lot.get(lot_id)
    except Lot.DoesNotExist:
        _lots.put(key, False)
        return None
    lanes = {
        lane.lane_id: LaneInfo(
            lane.lane_id, lane.direction, lane.gate_id, tuple(str(d) for d in lane.device_ids or [])
        )
        for lane in Lane.query(lot_id)
    }
    plan: dict[str, TariffRef] = {}
    for vehicle_class, entry in (item.tariff_plan or {}).items():
        holiday_id = entry.get("holiday_tariff_id")
        plan[vehicle_class] = TariffRef(
            entry["tariff_id"],
            latest_version(entry["tariff_id"]),
            holiday_id,
            latest_version(holiday_id) if holiday_id else None,
        )
    types = card_types(lot_id)
    config = LotConfig(
        lot_id=item.lot_id,
        operator_id=item.operator_id,
        name=item.name,
        timezone=item.timezone,
        zone=ZoneInfo(item.timezone),
        grace=timedelta(minutes=int(item.grace_minutes)),
        plan=plan,
        holidays=tuple(date.fromisoformat(str(d)) for d in item.holidays or []),
        lanes=lanes,
        capacity=int(item.capacity or 0),
        options=identities.Options.from_dict(item.identity_options),
        card_types=types,
        card_tariffs={
            t.tariff_id: TariffRef(t.tariff_id, latest_version(t.tariff_id))
            for t in types.values()
            if t.tariff_id
        },
    )
    _lots.put(key, config)
    return config


def card_types(lot_id: str) -> dict[str, identities.CardType]:
    """The lot's card types (VIP类型), read with its configuration."""
    out: dict[str, identities.CardType] = {}
    for item in LotIdentity.query(lot_id, LotIdentity.key.startswith(f"{TYPE}#")):
        lanes = item.data.get("lanes")
        out[item.item_id] = identities.CardType(
            item.item_id,
            str(item.data.get("name") or item.item_id),
            tuple(lanes) if lanes is not None else None,
            item.data.get("tariff_id"),
        )
    return out


def latest_version(tariff_id: str) -> int:
    """The version in force now; its definition is kept too, so the exit needs no extra read."""
    for item in TariffVersion.query(tariff_id, scan_index_forward=False, limit=1):
        version = int(item.version)
        if _tariffs.get((tariff_id, version)) is None:
            _tariffs.put((tariff_id, version), tariffs.parse(item.definition))
        return version
    raise LookupError(f"tariff {tariff_id} does not exist")


def tariff(tariff_id: str, version: int) -> Tariff:
    """One tariff version; versions never change, so they are kept for the container's life."""
    key = (tariff_id, version)
    hit = _tariffs.get(key)
    if hit is None:
        hit = tariffs.parse(TariffVersion.get(tariff_id, version).definition)
        _tariffs.put(key, hit)
    return hit
