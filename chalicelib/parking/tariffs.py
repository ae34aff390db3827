"""Tariff management for staff: create and validate, version, assign to a lot's vehicle classes,
and preview (计费测试) without touching any visit."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.parking import config, lots
from chalicelib.parking.contract import MAX_PREVIEW_DAYS, PreviewIn, TariffIn, TariffPlanIn, TariffUpdate
from chalicelib.parking.domain import tariffs
from chalicelib.parking.domain.tariffs import VEHICLE_CLASSES, Calendar, Price, Tariff, TariffInvalid
from chalicelib.parking.models import Lot, TariffVersion
from chalicelib.platform import audit
from chalicelib.shared import versioned
from chalicelib.shared.db import transaction
from chalicelib.shared.errors import Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.tenancy import require_same_owner
from chalicelib.shared.validation import instant_in_range


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


def create(operator_id: str, user_id: str, body: TariffIn, now: datetime) -> TariffVersion:
    tariff = validate(body.definition)
    item = TariffVersion(
        sortable_id("t", now),
        1,
        operator_id=operator_id,
        name=_name(body.name),
        definition=tariff.to_dict(),
        created_at=now,
        created_by=user_id,
    )
    with transaction() as tx:
        tx.save(item, condition=TariffVersion.tariff_id.does_not_exist())
        audit.add(
            tx, user_id, operator_id, "tariff", item.tariff_id, "create", None, _audited(item), None, now
        )
    return item


def _audited(item: TariffVersion) -> dict[str, Any]:
    return {"version": int(item.version), "name": item.name, "definition": item.definition}


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
    operator_id: str, user_id: str, tariff_id: str, body: TariffUpdate, now: datetime
) -> TariffVersion:
    """Write the next version. Visits already inside keep the version they entered under."""
    tariff = validate(body.definition)
    current = latest(operator_id, tariff_id)
    item = TariffVersion(
        tariff_id,
        int(current.version) + 1,
        operator_id=operator_id,
        name=_name(body.name) if body.name is not None else current.name,
        definition=tariff.to_dict(),
        created_at=now,
        created_by=user_id,
    )
    versioned.write(
        item,
        also=lambda tx: audit.add(
            tx,
            user_id,
            operator_id,
            "tariff",
            tariff_id,
            "new_version",
            _audited(current),
            _audited(item),
            None,
            now,
        ),
    )
    config.clear_cache()
    return item


def of_operator(operator_id: str) -> list[TariffVersion]:
    newest: dict[str, TariffVersion] = {}
    for item in TariffVersion.by_operator.query(operator_id):
        if item.tariff_id not in newest or item.version > newest[item.tariff_id].version:
            newest[item.tariff_id] = item
    return sorted(newest.values(), key=lambda t: t.tariff_id)


def assign(operator_id: str, user_id: str, lot_id: str, body: TariffPlanIn, now: datetime) -> Lot:
    """Set the lot's tariff for each vehicle class (and holiday tariffs, holidays, grace window)."""
    lot = lots.own(operator_id, lot_id)
    plan: dict[str, dict[str, str | None]] = {}
    for vehicle_class in VEHICLE_CLASSES:
        entry = getattr(body, vehicle_class)
        for tariff_id in filter(None, (entry.tariff_id, entry.holiday_tariff_id)):
            latest(operator_id, tariff_id)  # exists and belongs to this operator
        plan[vehicle_class] = {"tariff_id": entry.tariff_id, "holiday_tariff_id": entry.holiday_tariff_id}
    if body.holidays is not None:
        cleaned = sorted({d.isoformat() for d in body.holidays})
    else:
        cleaned = list(lot.holidays or [])
    grace = body.grace_minutes if body.grace_minutes is not None else int(lot.grace_minutes)
    before = {
        "tariff_plan": lot.tariff_plan,
        "holidays": list(lot.holidays or []),
        "grace_minutes": int(lot.grace_minutes),
    }
    after = {"tariff_plan": plan, "holidays": cleaned, "grace_minutes": grace}
    with transaction() as tx:
        tx.update(
            lot,
            actions=[
                Lot.tariff_plan.set(plan),
                Lot.holidays.set(cleaned),
                Lot.grace_minutes.set(grace),
                Lot.updated_at.set(now),
            ],
            condition=Lot.operator_id == operator_id,
        )
        audit.add(tx, user_id, operator_id, "lot", lot_id, "tariff_plan", before, after, None, now)
    lot.refresh(consistent_read=True)
    config.clear_cache()
    return lot


def preview(operator_id: str, body: PreviewIn, now: datetime) -> tuple[Price, dict[str, Any]]:
    """Price a stay with a stored or inline tariff, or with a lot's plan for a vehicle class."""
    zone_name = body.timezone
    holiday: Tariff | None = None
    holiday_dates: list[date] = []
    used: dict[str, Any]
    if body.lot_id is not None:
        lot = config.lot(body.lot_id)
        require_same_owner(
            lot.operator_id if lot else None, operator_id, NotFound("no such lot", "lot_not_found")
        )
        assert lot is not None
        vehicle_class = body.vehicle_class
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
    elif body.tariff_id is not None:
        stored = get(operator_id, body.tariff_id, body.version)
        tariff = tariffs.parse(stored.definition)
        used = {"tariff_id": stored.tariff_id, "version": int(stored.version)}
    elif body.tariff is not None:
        tariff = validate(body.tariff)
        used = {"inline": True}
    else:
        raise Invalid(
            "give a tariff (inline), a tariff_id, or a lot_id with a vehicle_class", "invalid_preview"
        )
    if body.holiday_tariff is not None:
        holiday = validate(body.holiday_tariff)
    if body.holidays is not None:
        holiday_dates = list(body.holidays)
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    entered = instant_in_range(body.entered_at, "entered_at") if body.entered_at else now
    exited = instant_in_range(body.exited_at, "exited_at") if body.exited_at else None
    if exited is None:
        if body.duration_minutes is None:
            raise Invalid("give exited_at, or duration_minutes as a whole number", "invalid_duration")
        exited = instant_in_range(entered + timedelta(minutes=body.duration_minutes), "exited_at")
    if exited < entered:
        raise Invalid("exited_at is before entered_at", "invalid_duration")
    if exited - entered > timedelta(days=MAX_PREVIEW_DAYS):
        raise Invalid(f"a preview covers at most {MAX_PREVIEW_DAYS} days", "invalid_duration")
    calendar = Calendar.of(holiday_dates, holiday) if holiday is not None else tariffs.NO_HOLIDAYS
    result = tariffs.price(tariff, entered, exited, zone, calendar)
    return result, {**used, "entered_at": entered, "exited_at": exited, "timezone": str(zone_name)}
