"""The session's tariff applied to its readings: cost so far, the cost expected at the next
reading, the bill, and validation/preview for staff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.charging.domain import energy_tariffs as et
from chalicelib.charging.domain import sessions as rules
from chalicelib.charging.models import ChargingSession
from chalicelib.shared.errors import Invalid
from chalicelib.shared.timeutil import parse_iso


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


def preview(body: dict[str, Any]) -> dict[str, Any]:
    """计费测试: `{"kind", "definition", "timezone"?, and "readings": [[time, Wh], ...] or
    "energy_wh" + "started_at" + "minutes"}` → the bill, without touching any session."""
    kind = str(body.get("kind", "ev"))
    definition = validate(kind, body.get("definition"))
    try:
        zone = ZoneInfo(str(body.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise Invalid("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
    try:
        if "readings" in body:
            readings = sorted((parse_iso(str(t)), int(wh)) for t, wh in body["readings"])
        else:
            start = parse_iso(str(body["started_at"]))
            minutes, energy = body["minutes"], body.get("energy_wh", 0)
            if any(isinstance(v, bool) or not isinstance(v, int) or v < 0 for v in (minutes, energy)):
                raise ValueError("minutes and energy_wh must be whole numbers")
            readings = [(start, 0), (start + timedelta(minutes=minutes), energy)]
    except (KeyError, TypeError, ValueError) as exc:
        raise Invalid(
            "give readings [[time, Wh], ...] or started_at, minutes and energy_wh (whole numbers)",
            "invalid_preview",
        ) from exc
    if len(readings) < 2:
        raise Invalid("at least two readings are needed", "invalid_preview")
    if kind == "ebike":
        result = et.ebike_bill(
            et.parse_ebike(definition), readings[0][0], readings[-1][0], int(body.get("max_power_w", 0))
        )
        return {"total_fen": result["total_fen"], "ebike": result}
    return et.ev_bill(et.parse_ev(definition), readings, zone).to_dict()
