"""The session's tariff applied to its readings: cost so far, the cost expected at the next
reading, the bill, and validation/preview for staff."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.domain import charging as rules
from chalicelib.domain import energy_tariffs as et
from chalicelib.domain.timeutil import parse_iso
from chalicelib.errors import BadRequest
from chalicelib.models.charging import ChargingSession


def validate(kind: str, definition: Any) -> dict[str, Any]:
    try:
        if kind == "ebike":
            return et.ebike_to_dict(et.parse_ebike(definition))
        return et.ev_to_dict(et.parse_ev(definition))
    except et.ChargingTariffInvalid as exc:
        error = BadRequest("the tariff is not valid: " + "; ".join(exc.errors), "invalid_tariff")
        error.errors = exc.errors  # type: ignore[attr-defined]
        raise error from exc


def effective_from(now: datetime, zone: ZoneInfo) -> datetime:
    return et.effective_from(now, zone)


def _zone(session: ChargingSession) -> ZoneInfo:
    from chalicelib.services.charging import station_zone

    return station_zone(session.station_id)


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


def bill(session: ChargingSession, readings: list[tuple[datetime, int]]) -> dict[str, Any]:
    if _kind(session) == "ebike":
        return _ebike(session, readings)
    return et.ev_bill(et.parse_ev(session.tariff), readings, _zone(session)).to_dict()


def cost_so_far(session: ChargingSession, readings: list[tuple[datetime, int]]) -> int:
    return int(bill(session, readings)["total_fen"])


def expected_at_next_reading(
    session: ChargingSession, readings: list[tuple[datetime, int]], now: datetime
) -> int:
    if _kind(session) == "ebike":
        return cost_so_far(session, readings)
    return et.estimate_next(
        et.parse_ev(session.tariff), readings, _zone(session), now, rules.READING_INTERVAL
    )


def preview(body: dict[str, Any]) -> dict[str, Any]:
    """计费测试: `{"kind", "definition", "timezone"?, and "readings": [[time, Wh], ...] or
    "energy_wh" + "started_at" + "minutes"}` → the bill, without touching any session."""
    kind = str(body.get("kind", "ev"))
    definition = validate(kind, body.get("definition"))
    try:
        zone = ZoneInfo(str(body.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadRequest("timezone must be an IANA zone such as Asia/Shanghai", "invalid_timezone") from exc
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
        raise BadRequest(
            "give readings [[time, Wh], ...] or started_at, minutes and energy_wh (whole numbers)",
            "invalid_preview",
        ) from exc
    if len(readings) < 2:
        raise BadRequest("at least two readings are needed", "invalid_preview")
    if kind == "ebike":
        result = et.ebike_bill(
            et.parse_ebike(definition), readings[0][0], readings[-1][0], int(body.get("max_power_w", 0))
        )
        return {"total_fen": result["total_fen"], "ebike": result}
    return et.ev_bill(et.parse_ev(definition), readings, zone).to_dict()
