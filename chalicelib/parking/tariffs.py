"""Tariff management for staff: create and validate, version, assign to a lot's vehicle classes,
and preview (计费测试) without touching any visit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.parking import config, lots
from chalicelib.parking.domain import tariffs
from chalicelib.parking.domain.tariffs import VEHICLE_CLASSES, Calendar, Price, Tariff, TariffInvalid
from chalicelib.parking.models import Lot, TariffVersion
from chalicelib.shared import versioned
from chalicelib.shared.errors import Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import parse_iso

MAX_PREVIEW_DAYS = 3 * 366


class InvalidTariff(Invalid):
    code = "invalid_tariff"

    def __init__(self, errors: list[str]) -> None:
        super().__init__("the tariff is not valid: " + "; ".join(errors))
        self.errors = errors


def validate(definition: Any) -> Tariff:
    try:
        return tariffs.parse(definition)
    except TariffInvalid as exc:
        raise InvalidTariff(exc.errors) from exc


def _name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip() or len(name) > 80:
        raise Invalid("name is required (at most 80 characters)", "invalid_name")
    return name.strip()


def create(operator_id: str, user_id: str, name: Any, definition: Any, now: datetime) -> TariffVersion:
    tariff = validate(definition)
    item = TariffVersion(
        sortable_id("t", now),
        1,
        operator_id=operator_id,
        name=_name(name),
        definition=tariff.to_dict(),
        created_at=now,
        created_by=user_id,
    )
    item.save(condition=TariffVersion.tariff_id.does_not_exist())
    return item


def latest(operator_id: str, tariff_id: str) -> TariffVersion:
    return versioned.latest(
        TariffVersion,
        tariff_id,
        operator_id=operator_id,
        missing=NotFound("no such tariff", "tariff_not_found"),
    )


def get(operator_id: str, tariff_id: str, version: int | None) -> TariffVersion:
    if version is None:
        return latest(operator_id, tariff_id)
    try:
        item = TariffVersion.get(tariff_id, version)
    except TariffVersion.DoesNotExist:
        item = None
    if item is None or item.operator_id != operator_id:
        raise NotFound("no such tariff version", "tariff_not_found")
    return item


def new_version(
    operator_id: str, user_id: str, tariff_id: str, name: Any, definition: Any, now: datetime
) -> TariffVersion:
    """Write the next version. Visits already inside keep the version they entered under."""
    tariff = validate(definition)
    current = latest(operator_id, tariff_id)
    item = TariffVersion(
        tariff_id,
        int(current.version) + 1,
        operator_id=operator_id,
        name=_name(name) if name is not None else current.name,
        definition=tariff.to_dict(),
        created_at=now,
        created_by=user_id,
    )
    versioned.write(item)
    config.clear_cache()
    return item


def of_operator(operator_id: str) -> list[TariffVersion]:
    newest: dict[str, TariffVersion] = {}
    for item in TariffVersion.by_operator.query(operator_id):
        if item.tariff_id not in newest or item.version > newest[item.tariff_id].version:
            newest[item.tariff_id] = item
    return sorted(newest.values(), key=lambda t: t.tariff_id)


def assign(operator_id: str, lot_id: str, body: dict[str, Any], now: datetime) -> Lot:
    """Set the lot's tariff for each vehicle class (and holiday tariffs, holidays, grace window)."""
    lot = lots.own(operator_id, lot_id)
    plan: dict[str, dict[str, str | None]] = {}
    for vehicle_class in VEHICLE_CLASSES:
        entry = body.get(vehicle_class)
        if not isinstance(entry, dict) or not isinstance(entry.get("tariff_id"), str):
            raise Invalid(f"{vehicle_class}.tariff_id is required for every vehicle class", "invalid_plan")
        holiday = entry.get("holiday_tariff_id")
        if holiday is not None and not isinstance(holiday, str):
            raise Invalid(f"{vehicle_class}.holiday_tariff_id must be a tariff id or null", "invalid_plan")
        for tariff_id in filter(None, (entry["tariff_id"], holiday)):
            latest(operator_id, tariff_id)  # exists and belongs to this operator
        plan[vehicle_class] = {"tariff_id": entry["tariff_id"], "holiday_tariff_id": holiday}
    holidays = body.get("holidays", lot.holidays or [])
    if not isinstance(holidays, list):
        raise Invalid("holidays must be a list of YYYY-MM-DD dates", "invalid_holidays")
    try:
        cleaned = sorted({date.fromisoformat(str(d)).isoformat() for d in holidays})
    except ValueError as exc:
        raise Invalid("holidays must be a list of YYYY-MM-DD dates", "invalid_holidays") from exc
    grace = body.get("grace_minutes", int(lot.grace_minutes))
    if isinstance(grace, bool) or not isinstance(grace, int) or not 0 <= grace <= 240:
        raise Invalid("grace_minutes must be an integer from 0 to 240", "invalid_grace")
    lot.update(
        actions=[
            Lot.tariff_plan.set(plan),
            Lot.holidays.set(cleaned),
            Lot.grace_minutes.set(grace),
            Lot.updated_at.set(now),
        ]
    )
    config.clear_cache()
    return lot


def _instant(body: dict[str, Any], name: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise Invalid(f"{name} must be an ISO 8601 time with an offset", "invalid_time")
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise Invalid(f"{name} must be an ISO 8601 time with an offset", "invalid_time") from exc


def preview(operator_id: str, body: dict[str, Any], now: datetime) -> tuple[Price, dict[str, Any]]:
    """Price a stay with a stored or inline tariff, or with a lot's plan for a vehicle class."""
    zone_name = body.get("timezone", "Asia/Shanghai")
    holiday: Tariff | None = None
    holiday_dates: list[date] = []
    used: dict[str, Any]
    if isinstance(body.get("lot_id"), str):
        lot = config.lot(body["lot_id"])
        if lot is None or lot.operator_id != operator_id:
            raise NotFound("no such lot", "lot_not_found")
        vehicle_class = body.get("vehicle_class", "small")
        if vehicle_class not in VEHICLE_CLASSES:
            raise Invalid(
                f"vehicle_class must be one of {', '.join(VEHICLE_CLASSES)}", "invalid_vehicle_class"
            )
        ref = lot.ref_for(vehicle_class)
        if ref is None:
            raise Invalid("this lot has no tariff for that vehicle class", "no_tariff")
        tariff = config.tariff(ref.tariff_id, ref.version)
        if ref.holiday_tariff_id and ref.holiday_version is not None:
            holiday = config.tariff(ref.holiday_tariff_id, ref.holiday_version)
        holiday_dates = list(lot.holidays)
        zone_name = lot.timezone
        used = {"lot_id": lot.lot_id, "vehicle_class": vehicle_class, **ref.to_dict()}
    elif isinstance(body.get("tariff_id"), str):
        version = body.get("version")
        if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
            raise Invalid("version must be an integer", "invalid_version")
        stored = get(operator_id, body["tariff_id"], version)
        tariff = tariffs.parse(stored.definition)
        used = {"tariff_id": stored.tariff_id, "version": int(stored.version)}
    elif "tariff" in body:
        tariff = validate(body["tariff"])
        used = {"inline": True}
    else:
        raise Invalid(
            "give a tariff (inline), a tariff_id, or a lot_id with a vehicle_class", "invalid_preview"
        )
    if "holiday_tariff" in body:
        holiday = validate(body["holiday_tariff"])
    if "holidays" in body:
        try:
            holiday_dates = [date.fromisoformat(str(d)) for d in body["holidays"]]
        except (TypeError, ValueError) as exc:
            raise Invalid("holidays must be a list of YYYY-MM-DD dates", "invalid_holidays") from exc
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    entered = _instant(body, "entered_at") or now
    exited = _instant(body, "exited_at")
    minutes = body.get("duration_minutes")
    if exited is None:
        if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
            raise Invalid("give exited_at, or duration_minutes as a whole number", "invalid_duration")
        exited = entered + timedelta(minutes=minutes)
    if exited < entered:
        raise Invalid("exited_at is before entered_at", "invalid_duration")
    if exited - entered > timedelta(days=MAX_PREVIEW_DAYS):
        raise Invalid(f"a preview covers at most {MAX_PREVIEW_DAYS} days", "invalid_duration")
    calendar = Calendar.of(holiday_dates, holiday) if holiday is not None else tariffs.NO_HOLIDAYS
    result = tariffs.price(tariff, entered, exited, zone, calendar)
    return result, {**used, "entered_at": entered, "exited_at": exited, "timezone": str(zone_name)}
