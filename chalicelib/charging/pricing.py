"""The session's tariff applied to its readings: cost so far, the cost expected at the next
reading, the bill, and validation/preview for staff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.charging.contract import MAX_PREVIEW_SPAN, ChargingPreviewIn
from chalicelib.charging.domain import energy_tariffs as et
from chalicelib.charging.domain import sessions as rules
from chalicelib.charging.models import ChargingSession
from chalicelib.shared.errors import Invalid
from chalicelib.shared.validation import instant_in_range


def validate(kind: str, definition: Any) -> dict[str, Any]:
    try:
        if kind == "ebike":
            return et.ebike_to_dict(et.parse_ebike(definition))
        return et.ev_to_dict(et.parse_ev(definition))
    except et.ChargingTariffInvalid as exc:
        error = Invalid("the tariff is not valid: " + "; ".join(exc.errors), "invalid_tariff", exc.errors)
        raise error from exc


def effective_from(now: datetime, zone: ZoneInfo) -> datetime:
    return et.effective_from(now, zone)


def _kind(session: ChargingSession) -> str:
    return str((session.tariff_ref or {}).get("kind", "ev"))


def _ebike(session: ChargingSession, readings: list[tuple[datetime, int]]) -> dict[str, Any]:
    tariff = et.parse_ebike(session.tariff)
    started = session.started_at or (readings[0][0] if readings else session.created_at)
    ended = readings[-1][0] if readings else started
    bill = et.ebike_bill(tariff, started, ended, int(session.max_power_w or 0))
    energy = rules.energy(readings)
    return {
        "energy_wh": energy,
        "electricity_fen": 0,
        "service_fen": bill["total_fen"],
        "total_fen": bill["total_fen"],
        "periods": [],
        "ebike": bill,
    }


def past_auto_stop(session: ChargingSession, now: datetime) -> bool:
    """E-bike sockets stop by themselves at the tariff's time limit (at most 48 h)."""
    if _kind(session) != "ebike" or session.started_at is None:
        return False
    return now - session.started_at >= timedelta(minutes=et.parse_ebike(session.tariff).auto_stop_minutes)


def bill(session: ChargingSession, readings: list[tuple[datetime, int]], zone: ZoneInfo) -> dict[str, Any]:
    if _kind(session) == "ebike":
        return _ebike(session, readings)
    return et.ev_bill(et.parse_ev(session.tariff), readings, zone).to_dict()


def cost_so_far(session: ChargingSession, readings: list[tuple[datetime, int]], zone: ZoneInfo) -> int:
    return int(bill(session, readings, zone)["total_fen"])


def expected_at_next_reading(
    session: ChargingSession, readings: list[tuple[datetime, int]], now: datetime, zone: ZoneInfo
) -> int:
    if _kind(session) == "ebike":
        return cost_so_far(session, readings, zone)
    return et.estimate_next(et.parse_ev(session.tariff), readings, zone, now, rules.READING_INTERVAL)


def preview(body: ChargingPreviewIn) -> dict[str, Any]:
    """计费测试: `{"kind", "definition", "timezone"?, and "readings": [[time, Wh], ...] or
    "energy_wh" + "started_at" + "minutes"}` → the bill, without touching any session. The
    readings span at most a month (a longer span is no charging session)."""
    definition = validate(body.kind, body.definition)
    try:
        zone = ZoneInfo(body.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    if body.readings is not None:
        readings = sorted((instant_in_range(t, "readings"), wh) for t, wh in body.readings)
    elif body.started_at is not None and body.minutes is not None:
        start = instant_in_range(body.started_at, "started_at")
        readings = [(start, 0), (start + timedelta(minutes=body.minutes), body.energy_wh)]
    else:
        raise Invalid(
            "give readings [[time, Wh], ...] or started_at, minutes and energy_wh (whole numbers)",
            "invalid_preview",
        )
    if len(readings) < 2:
        raise Invalid("at least two readings are needed", "invalid_preview")
    if readings[-1][0] - readings[0][0] > MAX_PREVIEW_SPAN:
        raise Invalid(f"a preview covers at most {MAX_PREVIEW_SPAN.days} days of readings", "invalid_preview")
    if body.kind == "ebike":
        result = et.ebike_bill(et.parse_ebike(definition), readings[0][0], readings[-1][0], body.max_power_w)
        return {"total_fen": result["total_fen"], "ebike": result}
    return et.ev_bill(et.parse_ev(definition), readings, zone).to_dict()
