"""Charging tariffs (domain.md §3.2) and bills. Pure: readings and times in, integer fen out.

Units: energy in Wh (int); EV prices in 0.0001 yuan per kWh (万分之一元/kWh, so 0.8523 元/kWh is
8523); money in fen. Amounts are kept exact (fractions) until the end and rounded once, half up:
electricity and service each once; total = electricity + service; the per-period figures are
allocated so they add up exactly to those totals (largest remainder), energies likewise.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from fractions import Fraction
from typing import Any

from chalicelib.shared.timeutil import clock_minutes
from chalicelib.shared.validation import is_whole

SLOT_MINUTES = 30
SLOTS = 24 * 60 // SLOT_MINUTES
NO_PERIOD = "none"
MAX_AUTO_STOP_MINUTES = 48 * 60
FEN_PER_PRICE_WH = Fraction(1, 100_000)  # price unit × Wh → fen
MAX_NUMBER = 100_000_000  # no price, amount or duration in a tariff comes near it


class ChargingTariffInvalid(ValueError):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


def _int(
    data: dict[str, Any], name: str, errors: list[str], *, minimum: int = 0, default: int | None = None
) -> int:
    value = data.get(name, default)
    if not is_whole(value):
        errors.append(f"{name} must be a whole number")
        return 0
    if value < minimum:
        errors.append(f"{name} must be at least {minimum}")
    if value > MAX_NUMBER:
        errors.append(f"{name} must be at most {MAX_NUMBER}")
        return 0
    return value


def _only(data: dict[str, Any], allowed: tuple[str, ...], errors: list[str], where: str = "") -> None:
    """Every field must be one the tariff knows: a misspelt price is refused, not dropped."""
    errors.extend(f"{where}unknown field {str(name)[:40]!r}" for name in data if name not in allowed)


# --- EV ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    name: str
    electricity: int  # 0.0001 yuan per kWh
    service: int


@dataclass(frozen=True)
class EvTariff:
    kind: str  # uniform | time_of_use
    periods: dict[str, Period]
    slots: tuple[str, ...]  # the period of each 30-minute slot of the local day

    def period_at(self, local: datetime) -> Period:
        return self.periods[self.slots[(local.hour * 60 + local.minute) // SLOT_MINUTES]]


def _clock(text: Any, errors: list[str], where: str) -> int | None:
    try:
        minutes = clock_minutes(text)
    except ValueError as exc:
        errors.append(f"{where} {exc}")
        return None
    if minutes % SLOT_MINUTES:
        errors.append(f"{where} {text} is not on the 30-minute grid")
        return None
    return minutes


def parse_ev(data: Any) -> EvTariff:
    if not isinstance(data, dict):
        raise ChargingTariffInvalid(["a tariff must be a JSON object"])
    errors: list[str] = []
    kind = data.get("kind")
    if kind == "uniform":
        _only(data, ("kind", "electricity", "service"), errors)
        period = Period(NO_PERIOD, _int(data, "electricity", errors), _int(data, "service", errors))
        if errors:
            raise ChargingTariffInvalid(errors)
        return EvTariff("uniform", {NO_PERIOD: period}, (NO_PERIOD,) * SLOTS)
    if kind != "time_of_use":
        raise ChargingTariffInvalid(["kind must be uniform or time_of_use"])
    _only(data, ("kind", "periods", "schedule"), errors)
    raw_periods = data.get("periods")
    periods: dict[str, Period] = {}
    if not isinstance(raw_periods, dict) or not raw_periods:
        errors.append("periods must name at least one period with its prices")
    else:
        for name, prices in raw_periods.items():
            sub: list[str] = []
            if not isinstance(prices, dict):
                errors.append(f"periods.{name} must be an object")
                continue
            _only(prices, ("electricity", "service"), sub)
            periods[str(name)] = Period(
                str(name), _int(prices, "electricity", sub), _int(prices, "service", sub)
            )
            errors.extend(f"periods.{name}.{e}" for e in sub)
    slots: list[str | None] = [None] * SLOTS
    schedule = data.get("schedule")
    if not isinstance(schedule, list) or not schedule:
        errors.append("schedule must list the clock ranges of the periods")
        schedule = []
    for index, item in enumerate(schedule):
        where = f"schedule[{index}]"
        if not isinstance(item, dict):
            errors.append(f"{where} must be an object")
            continue
        _only(item, ("start", "end", "period"), errors, f"{where}.")
        start = _clock(item.get("start"), errors, f"{where}.start")
        end = _clock(item.get("end"), errors, f"{where}.end")
        name = item.get("period")
        if name not in periods:
            errors.append(f"{where}.period {name!r} is not one of the periods")
        if start is None or end is None:
            continue
        length = (end - start) % 1440 or 1440
        for step in range(length // SLOT_MINUTES):
            slot = (start // SLOT_MINUTES + step) % SLOTS
            if slots[slot] is not None:
                errors.append(f"{where} overlaps another range at {slot * 30 // 60:02d}:{slot * 30 % 60:02d}")
                break
            slots[slot] = str(name)
    missing = [i for i, s in enumerate(slots) if s is None]
    if missing and not errors:
        first = missing[0] * SLOT_MINUTES
        errors.append(
            f"the schedule must cover all 24 hours; {first // 60:02d}:{first % 60:02d} is not covered"
        )
    if errors:
        raise ChargingTariffInvalid(errors)
    return EvTariff("time_of_use", periods, tuple(str(s) for s in slots))


def ev_to_dict(tariff: EvTariff) -> dict[str, Any]:
    if tariff.kind == "uniform":
        only = tariff.periods[NO_PERIOD]
        return {"kind": "uniform", "electricity": only.electricity, "service": only.service}
    schedule = []
    start = 0
    for slot in range(1, SLOTS + 1):
        if slot == SLOTS or tariff.slots[slot] != tariff.slots[start]:
            schedule.append(
                {
                    "start": f"{start * 30 // 60:02d}:{start * 30 % 60:02d}",
                    "end": f"{slot * 30 // 60:02d}:{slot * 30 % 60:02d}",
                    "period": tariff.slots[start],
                }
            )
            start = slot
    return {
        "kind": "time_of_use",
        "periods": {
            p.name: {"electricity": p.electricity, "service": p.service} for p in tariff.periods.values()
        },
        "schedule": schedule,
    }


def _round(value: Fraction) -> int:
    """Half up, for the non-negative amounts of a bill."""
    return math.floor(value + Fraction(1, 2))


def _allocate(total: int, parts: list[Fraction]) -> list[int]:
    """Integers that add up to `total`, each as close to its exact part as possible."""
    floors = [math.floor(p) for p in parts]
    short = total - sum(floors)
    order = sorted(range(len(parts)), key=lambda i: parts[i] - floors[i], reverse=True)
    for i in order[: max(0, short)]:
        floors[i] += 1
    return floors


@dataclass(frozen=True)
class PeriodLine:
    period: str
    energy_wh: int
    electricity_fen: int
    service_fen: int
    electricity_price: int
    service_price: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "energy_wh": self.energy_wh,
            "electricity_price": self.electricity_price,
            "service_price": self.service_price,
            "electricity_fen": self.electricity_fen,
            "service_fen": self.service_fen,
            "amount_fen": self.electricity_fen + self.service_fen,
        }


@dataclass(frozen=True)
class EvBill:
    energy_wh: int
    electricity_fen: int
    service_fen: int
    lines: tuple[PeriodLine, ...] = field(default_factory=tuple)

    @property
    def total_fen(self) -> int:
        return self.electricity_fen + self.service_fen

    def to_dict(self) -> dict[str, Any]:
        return {
            "energy_wh": self.energy_wh,
            "electricity_fen": self.electricity_fen,
            "service_fen": self.service_fen,
            "total_fen": self.total_fen,
            "periods": [line.to_dict() for line in self.lines],
        }


def _split(tariff: EvTariff, zone: tzinfo, start: datetime, end: datetime) -> list[tuple[str, Fraction]]:
    """Shares of [start, end) per period, cut at the 30-minute slot boundaries of the local day."""
    if end <= start:
        return [(tariff.period_at(start.astimezone(zone)).name, Fraction(1))]
    total = (end - start) // timedelta(microseconds=1)
    shares: list[tuple[str, Fraction]] = []
    t = start
    while t < end:
        local = t.astimezone(zone)
        into_slot = timedelta(
            minutes=local.minute % SLOT_MINUTES, seconds=local.second, microseconds=local.microsecond
        )
        boundary = min(end, t + timedelta(minutes=SLOT_MINUTES) - into_slot)
        share = Fraction((boundary - t) // timedelta(microseconds=1), total)
        shares.append((tariff.period_at(local).name, share))
        t = boundary
    return shares


def ev_bill(tariff: EvTariff, readings: list[tuple[datetime, int]], zone: tzinfo) -> EvBill:
    """The bill for cumulative meter readings (time, Wh), sorted; the first is the start. Energy
    between two readings is spread over time by linear interpolation and attributed to the period
    of each slot it falls in. A lower reading than the previous adds no energy."""
    energy: dict[str, Fraction] = {name: Fraction(0) for name in tariff.periods}
    delivered = 0
    for (t0, e0), (t1, e1) in itertools.pairwise(readings):
        delta = max(0, e1 - e0)
        if not delta:
            continue
        delivered += delta
        for name, share in _split(tariff, zone, t0, t1):
            energy[name] += delta * share
    names = [n for n in tariff.periods if energy[n] or len(tariff.periods) == 1] or list(tariff.periods)[:1]
    exact_e = [energy[n] * tariff.periods[n].electricity * FEN_PER_PRICE_WH for n in names]
    exact_s = [energy[n] * tariff.periods[n].service * FEN_PER_PRICE_WH for n in names]
    electricity, service = _round(sum(exact_e, Fraction(0))), _round(sum(exact_s, Fraction(0)))
    wh = _allocate(delivered, [energy[n] for n in names])
    e_parts, s_parts = _allocate(electricity, exact_e), _allocate(service, exact_s)
    lines = tuple(
        PeriodLine(n, wh[i], e_parts[i], s_parts[i], tariff.periods[n].electricity, tariff.periods[n].service)
        for i, n in enumerate(names)
    )
    return EvBill(delivered, electricity, service, lines)


def price_now(tariff: EvTariff, at: datetime, zone: tzinfo) -> int:
    """Electricity + service price in force at `at` (0.0001 yuan per kWh)."""
    period = tariff.period_at(at.astimezone(zone))
    return period.electricity + period.service


def estimate_next(
    tariff: EvTariff, readings: list[tuple[datetime, int]], zone: tzinfo, now: datetime, interval: timedelta
) -> int:
    """The cost (fen, rounded up) expected at the next reading: the bill so far plus the energy
    the recent power would deliver by then, at the price in force now."""
    so_far = ev_bill(tariff, readings, zone).total_fen
    if len(readings) < 2:
        return so_far
    (t0, e0), (t1, e1) = readings[-2], readings[-1]
    elapsed = (t1 - t0) // timedelta(microseconds=1)
    if elapsed <= 0 or e1 <= e0:
        return so_far
    coming = Fraction(e1 - e0) * Fraction(interval // timedelta(microseconds=1), elapsed)
    return so_far + math.ceil(coming * price_now(tariff, now, zone) * FEN_PER_PRICE_WH)


# --- e-bike -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PowerBand:
    up_to_w: int
    unit_fen: int


@dataclass(frozen=True)
class EbikeTariff:
    kind: str  # duration | power_band
    unit_minutes: int
    unit_fen: int
    free_minutes: int
    auto_stop_minutes: int
    bands: tuple[PowerBand, ...] = ()


def parse_ebike(data: Any) -> EbikeTariff:
    if not isinstance(data, dict):
        raise ChargingTariffInvalid(["a tariff must be a JSON object"])
    errors: list[str] = []
    kind = data.get("kind")
    if kind not in ("duration", "power_band"):
        raise ChargingTariffInvalid(["kind must be duration or power_band"])
    common = ("kind", "unit_minutes", "free_minutes", "auto_stop_minutes")
    _only(data, (*common, "unit_fen") if kind == "duration" else (*common, "bands"), errors)
    unit = _int(data, "unit_minutes", errors, minimum=1)
    free = _int(data, "free_minutes", errors, default=0)
    limit = _int(data, "auto_stop_minutes", errors, minimum=1, default=MAX_AUTO_STOP_MINUTES)
    if limit > MAX_AUTO_STOP_MINUTES:
        errors.append(f"auto_stop_minutes must be at most {MAX_AUTO_STOP_MINUTES} (48 hours)")
    bands: list[PowerBand] = []
    unit_fen = 0
    if kind == "duration":
        unit_fen = _int(data, "unit_fen", errors)
    else:
        raw = data.get("bands")
        if not isinstance(raw, list) or not raw:
            errors.append("bands must list the power bands")
            raw = []
        for index, band in enumerate(raw):
            sub: list[str] = []
            if not isinstance(band, dict):
                errors.append(f"bands[{index}] must be an object")
                continue
            _only(band, ("up_to_w", "unit_fen"), sub)
            bands.append(PowerBand(_int(band, "up_to_w", sub, minimum=1), _int(band, "unit_fen", sub)))
            errors.extend(f"bands[{index}].{e}" for e in sub)
        for a, b in itertools.pairwise(bands):
            if b.up_to_w <= a.up_to_w:
                errors.append("bands must be in increasing order of up_to_w")
    if errors:
        raise ChargingTariffInvalid(errors)
    return EbikeTariff(str(kind), unit, unit_fen, free, limit, tuple(bands))


def ebike_to_dict(tariff: EbikeTariff) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": tariff.kind,
        "unit_minutes": tariff.unit_minutes,
        "free_minutes": tariff.free_minutes,
        "auto_stop_minutes": tariff.auto_stop_minutes,
    }
    if tariff.kind == "duration":
        out["unit_fen"] = tariff.unit_fen
    else:
        out["bands"] = [{"up_to_w": b.up_to_w, "unit_fen": b.unit_fen} for b in tariff.bands]
    return out


def ebike_bill(tariff: EbikeTariff, started: datetime, ended: datetime, max_power_w: int) -> dict[str, Any]:
    """Started units of time at the unit price (of the highest power band reached); free when the
    session ends within the free minutes; never beyond the auto-stop limit."""
    seconds = min(max(0, (ended - started) // timedelta(seconds=1)), tariff.auto_stop_minutes * 60)
    if seconds <= tariff.free_minutes * 60:
        return {"total_fen": 0, "minutes": -(-seconds // 60), "units": 0, "unit_fen": 0, "band": None}
    unit_fen, band = tariff.unit_fen, None
    if tariff.kind == "power_band":
        chosen = next((b for b in tariff.bands if max_power_w <= b.up_to_w), tariff.bands[-1])
        unit_fen, band = chosen.unit_fen, chosen.up_to_w
    units = -(-seconds // (tariff.unit_minutes * 60))
    return {
        "total_fen": units * unit_fen,
        "minutes": -(-seconds // 60),
        "units": units,
        "unit_fen": unit_fen,
        "band": band,
    }


# --- effective dates ------------------------------------------------------------------------------


def effective_from(changed_at: datetime, zone: tzinfo) -> datetime:
    """A new or changed tariff takes effect at the station's next local midnight (a change made
    exactly at midnight waits for the following one, so no session of that day changes price)."""
    local = changed_at.astimezone(zone)
    next_day = (local + timedelta(days=1)).date()
    return datetime(next_day.year, next_day.month, next_day.day, tzinfo=zone)
