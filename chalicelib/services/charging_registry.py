"""The charging registry for staff: stations, chargers with connectors and QR codes, and
versioned charging tariffs that take effect at the station's next midnight."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pynamodb.exceptions import PutError

from chalicelib.domain.timeutil import iso
from chalicelib.errors import BadRequest, Conflict, NotFound
from chalicelib.ids import sortable_id
from chalicelib.models.charging import Charger, ChargingTariffVersion, Connector, QrCode, Station
from chalicelib.services import charging_pricing


def _text(body: dict[str, Any], name: str, required: bool = True, max_len: int = 80) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise BadRequest(f"{name} is required (text, at most {max_len} characters)", f"invalid_{name}")
    return value.strip()


def _whole(body: dict[str, Any], name: str, default: int, low: int, high: int) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}", f"invalid_{name}")
    return value


def create_station(operator_id: str, body: dict[str, Any]) -> Station:
    zone = body.get("timezone", "Asia/Shanghai")
    try:
        ZoneInfo(str(zone))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    areas = body.get("areas", {})
    if not isinstance(areas, dict) or not all(
        isinstance(a, dict) and isinstance(a.get("power_limit_w", 0), int) for a in areas.values()
    ):
        raise BadRequest('areas must be {"area_id": {"name", "power_limit_w"}}', "invalid_areas")
    waiver = body.get("parking_waiver")
    if waiver is not None and (
        not isinstance(waiver, dict)
        or not isinstance(waiver.get("lot_id"), str)
        or not any(isinstance(waiver.get(k), int) and waiver[k] > 0 for k in ("minutes", "fen"))
    ):
        raise BadRequest('parking_waiver must be {"lot_id", "minutes" or "fen"}', "invalid_waiver")
    station = Station(
        body.get("station_id") if isinstance(body.get("station_id"), str) else secrets.token_hex(6),
        operator_id=operator_id,
        name=_text(body, "name"),
        timezone=str(zone),
        areas=areas,
        min_balance_fen=_whole(body, "min_balance_fen", 100, 0, 100_000),
        parking_waiver=waiver,
    )
    try:
        station.save(condition=Station.station_id.does_not_exist())
    except PutError as exc:
        raise Conflict("a station with this id exists", "station_exists") from exc
    return station


def create_charger(operator_id: str, body: dict[str, Any]) -> dict[str, Any]:
    charger_id = _text(body, "charger_id", max_len=40)
    assert charger_id is not None
    count = _whole(body, "connector_count", 1, 1, 24)
    charger = Charger(
        charger_id,
        operator_id=operator_id,
        station_id=str(body["station_id"]),
        area_id=_text(body, "area_id", required=False),
        kind=body.get("kind", "ev") if body.get("kind", "ev") in ("ev", "ebike") else "ev",
        serial=_text(body, "serial", required=False),
        model=_text(body, "model", required=False),
        firmware_main=_text(body, "firmware_main", required=False),
        firmware_screen=_text(body, "firmware_screen", required=False),
        current_type=body.get("current_type", "DC")
        if body.get("current_type", "DC") in ("AC", "DC")
        else "DC",
        rated_power_w=_whole(body, "rated_power_w", 0, 0, 1_000_000),
        connector_count=count,
    )
    try:
        charger.save(condition=Charger.charger_id.does_not_exist())
    except PutError as exc:
        raise Conflict("a charger with this id exists", "charger_exists") from exc
    qr_ids = []
    for connector_id in range(1, count + 1):
        Connector(charger_id, connector_id, status="Unavailable").save()
        qr_id = f"{charger_id}-{connector_id}"
        QrCode(qr_id, charger_id=charger_id, connector_id=connector_id).save()
        qr_ids.append(qr_id)
    return {"charger_id": charger_id, "connector_count": count, "qr_ids": qr_ids}


def chargers_of(station_id: str) -> list[dict[str, Any]]:
    out = []
    for charger in Charger.by_station.query(station_id):
        connectors = [
            {
                "connector_id": int(c.connector_id),
                "status": c.status,
                "session_id": c.session_id,
                "qr_id": f"{charger.charger_id}-{int(c.connector_id)}",
            }
            for c in Connector.query(charger.charger_id)
        ]
        out.append(
            {
                "charger_id": charger.charger_id,
                "kind": charger.kind,
                "area_id": charger.area_id,
                "serial": charger.serial,
                "model": charger.model,
                "vendor": charger.vendor,
                "firmware_main": charger.firmware_main,
                "firmware_screen": charger.firmware_screen,
                "current_type": charger.current_type,
                "rated_power_w": int(charger.rated_power_w),
                "online": bool(charger.online),
                "last_seen_at": iso(charger.last_seen_at) if charger.last_seen_at else None,
                "connectors": connectors,
            }
        )
    return out


def assign_tariff(operator_id: str, station: Station, tariff_id: Any) -> None:
    if not isinstance(tariff_id, str):
        raise BadRequest("tariff_id is required", "invalid_tariff_id")
    latest(operator_id, tariff_id)
    station.update(actions=[Station.tariff_id.set(tariff_id)])


def latest(operator_id: str, tariff_id: str) -> ChargingTariffVersion:
    for item in ChargingTariffVersion.query(
        tariff_id, scan_index_forward=False, limit=1, consistent_read=True
    ):
        if item.operator_id == operator_id:
            return item
    raise NotFound("no such charging tariff", "tariff_not_found")


def create_tariff(
    operator_id: str, user_id: str, body: dict[str, Any], now: datetime, tariff_id: str | None
) -> ChargingTariffVersion:
    """A new tariff, or the next version of one; it takes effect at the station's next midnight
    (in the zone given, Asia/Shanghai by default) and sessions keep the tariff they started with."""
    kind = body.get("kind", "ev")
    if kind not in ("ev", "ebike"):
        raise BadRequest("kind must be ev or ebike", "invalid_kind")
    definition = charging_pricing.validate(str(kind), body.get("definition"))
    zone_name = str(body.get("timezone", "Asia/Shanghai"))
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    version = 1
    if tariff_id is not None:
        current = latest(operator_id, tariff_id)
        version = int(current.version) + 1
    item = ChargingTariffVersion(
        tariff_id or sortable_id("ct", now),
        version,
        operator_id=operator_id,
        name=_text(body, "name")
        if tariff_id is None or "name" in body
        else latest(operator_id, tariff_id).name,
        kind=str(kind),
        definition=definition,
        effective_from=charging_pricing.effective_from(now, zone),
        created_at=now,
        created_by=user_id,
    )
    try:
        item.save(condition=ChargingTariffVersion.version.does_not_exist())
    except PutError as exc:
        raise Conflict(
            "someone else changed this tariff at the same time; try again", "version_conflict"
        ) from exc
    return item


def tariff_view(item: ChargingTariffVersion) -> dict[str, Any]:
    return {
        "tariff_id": item.tariff_id,
        "version": int(item.version),
        "name": item.name,
        "kind": item.kind,
        "definition": item.definition,
        "effective_from": iso(item.effective_from),
        "created_at": iso(item.created_at),
    }


def preview(body: dict[str, Any]) -> dict[str, Any]:
    return charging_pricing.preview(body)
