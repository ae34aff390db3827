"""The charging registry for staff: stations, chargers with connectors and QR codes, and
versioned charging tariffs that take effect at the station's next midnight."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from pynamodb.exceptions import TransactWriteError

from chalicelib.charging import pricing as charging_pricing
from chalicelib.charging.contract import ChargerIn, ChargingPreviewIn, ChargingTariffIn, StationIn, Waiver
from chalicelib.charging.models import Charger, ChargingTariffVersion, Connector, QrCode, Station
from chalicelib.parking import ports as parking
from chalicelib.platform import audit, registry
from chalicelib.platform.models import CHARGER
from chalicelib.shared import validation, versioned
from chalicelib.shared.db import failed_condition, get_owned, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.tenancy import require_same_owner
from chalicelib.shared.timeutil import iso, iso_or_none


def _no_lot() -> NotFound:
    return NotFound("no such lot", "lot_not_found")


def own_station(operator_id: str, station_id: str) -> Station:
    """The caller's station; another operator's answers exactly like a missing one."""
    return get_owned(
        Station,
        station_id,
        owner=("operator_id", operator_id),
        missing=NotFound("no such station", "station_not_found"),
    )


def own_charger(operator_id: str, charger_id: str) -> Charger:
    return get_owned(
        Charger,
        charger_id,
        owner=("operator_id", operator_id),
        missing=NotFound("no such charger", "charger_not_found"),
    )


def stations_of(operator_id: str) -> list[Station]:
    return list(Station.by_operator.query(operator_id))


def create_station(operator_id: str, user_id: str, body: StationIn, now: datetime) -> Station:
    validation.zone(body.timezone)
    waiver = body.parking_waiver
    if waiver is not None and waiver.minutes is None and waiver.fen is None:
        raise Invalid('parking_waiver must be {"lot_id", "minutes" or "fen"}', "invalid_waiver")
    if waiver is not None:  # a waiver only for the operator's own lots
        require_same_owner(parking.lot_operator(waiver.lot_id), operator_id, _no_lot())
    station = Station(
        body.station_id.strip() if body.station_id else sortable_id("st", now),
        operator_id=operator_id,
        name=validation.text(body.name, "name"),
        timezone=body.timezone,
        areas=msgspec.to_builtins(body.areas),
        min_balance_fen=body.min_balance_fen,
        parking_waiver=_waiver(waiver),
    )
    try:
        with transaction() as tx:
            tx.save(station, condition=Station.station_id.does_not_exist())
            audit.add(
                tx,
                user_id,
                operator_id,
                "station",
                station.station_id,
                "create",
                None,
                _station(station),
                None,
                now,
            )
    except TransactWriteError as exc:
        if failed_condition(exc, index=0):
            raise Conflict("a station with this id exists", "station_exists") from exc
        raise
    return station


def _station(station: Station) -> dict[str, Any]:
    return {
        "name": station.name,
        "timezone": station.timezone,
        "areas": station.areas,
        "min_balance_fen": int(station.min_balance_fen or 0),
        "parking_waiver": station.parking_waiver,
        "tariff_id": station.tariff_id,
    }


def _waiver(waiver: Waiver | None) -> dict[str, Any] | None:
    if waiver is None:
        return None
    return {k: v for k, v in msgspec.to_builtins(waiver).items() if v is not None}


def create_charger(operator_id: str, user_id: str, body: ChargerIn, now: datetime) -> dict[str, Any]:
    charger_id = body.charger_id.strip()
    count = body.connector_count
    registry.register(charger_id, CHARGER, operator_id, station_id=body.station_id)
    charger = Charger(
        charger_id,
        operator_id=operator_id,
        station_id=body.station_id,
        area_id=body.area_id,
        kind=body.kind,
        serial=body.serial,
        model=body.model,
        firmware_main=body.firmware_main,
        firmware_screen=body.firmware_screen,
        current_type=body.current_type,
        rated_power_w=body.rated_power_w,
        connector_count=count,
    )
    after = {"station_id": body.station_id, "kind": body.kind, "connector_count": count, "model": body.model}
    try:
        with transaction() as tx:
            tx.save(charger, condition=Charger.charger_id.does_not_exist())
            audit.add(tx, user_id, operator_id, "device", charger_id, "create", None, after, None, now)
    except TransactWriteError as exc:
        if failed_condition(exc, index=0):
            raise Conflict("a charger with this id exists", "charger_exists") from exc
        raise
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
        device = registry.get(charger.charger_id, consistent=False)
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
                "online": bool(device.online) if device else False,
                "last_seen_at": iso_or_none(device.last_seen_at) if device else None,
                "connectors": connectors,
            }
        )
    return out


def assign_tariff(operator_id: str, user_id: str, station: Station, tariff_id: str, now: datetime) -> None:
    latest(operator_id, tariff_id)
    with transaction() as tx:
        tx.update(
            station, actions=[Station.tariff_id.set(tariff_id)], condition=Station.operator_id == operator_id
        )
        audit.add(
            tx,
            user_id,
            operator_id,
            "station",
            station.station_id,
            "tariff",
            {"tariff_id": station.tariff_id},
            {"tariff_id": tariff_id},
            None,
            now,
        )


def latest(operator_id: str, tariff_id: str) -> ChargingTariffVersion:
    return versioned.latest(
        ChargingTariffVersion,
        tariff_id,
        operator_id=operator_id,
        missing=NotFound("no such charging tariff", "tariff_not_found"),
    )


def create_tariff(
    operator_id: str, user_id: str, body: ChargingTariffIn, now: datetime, tariff_id: str | None
) -> ChargingTariffVersion:
    """A new tariff, or the next version of one; it takes effect at the station's next midnight
    (in the zone given, Asia/Shanghai by default) and sessions keep the tariff they started with."""
    kind = body.kind
    definition = charging_pricing.validate(kind, body.definition)
    zone = validation.zone(body.timezone)
    if tariff_id is None and body.name is None:
        raise Invalid("name is required (text, at most 80 characters)", "invalid_name")
    version = 1
    current: ChargingTariffVersion | None = None
    if tariff_id is not None:
        current = latest(operator_id, tariff_id)
        version = int(current.version) + 1
    item = ChargingTariffVersion(
        tariff_id or sortable_id("ct", now),
        version,
        operator_id=operator_id,
        name=validation.text(body.name, "name")
        if body.name is not None
        else latest(operator_id, tariff_id or "").name,
        kind=str(kind),
        definition=definition,
        effective_from=charging_pricing.effective_from(now, zone),
        created_at=now,
        created_by=user_id,
    )
    return versioned.write(
        item,
        also=lambda tx: audit.add(
            tx,
            user_id,
            operator_id,
            "charging_tariff",
            item.tariff_id,
            "create" if current is None else "new_version",
            _tariff_audited(current) if current is not None else None,
            _tariff_audited(item),
            None,
            now,
        ),
    )


def _tariff_audited(item: ChargingTariffVersion) -> dict[str, Any]:
    return {"version": int(item.version), "name": item.name, "kind": item.kind, "definition": item.definition}


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


def preview(body: ChargingPreviewIn) -> dict[str, Any]:
    return charging_pricing.preview(body)
