"""Temporary-parking tariffs (临停计费, domain.md §2.2) and the pricing engine. Pure: a tariff,
two instants, the lot's time zone and holidays in; integer fen and a readable breakdown out.

Kinds: per_visit (按次), duration (按时), segments (按时段), tiered (按梯次), free (不收费).
Cycles: rolling_24h from entry, or calendar_day (restarting at the lot's local midnight).
Repeat modes: repeat (每次单独计费) or no_repeat (the cycle's cap holds across all visits of a plate
in one cycle; the service passes what earlier visits already owed in the open cycle as a `Carry`).

Decisions (docs/tariffs.md):
- free minutes apply once, to the stay as a whole; a longer stay is charged from its start;
- each cycle is priced afresh (a first block and its units start again in every cycle);
- a cycle that starts on a holiday (lot's local date) is priced with the holiday tariff, if any;
- a per-visit tariff's amount is also its cap per cycle, so in no_repeat mode a second visit in a
  cycle that already paid it is free;
- the engine works per cycle and per segment occurrence, never per minute; runs of identical full
  cycles are priced once and counted, so a one-year stay costs a handful of operations.
"""

from __future__ import annotations

import bisect
import itertools
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from chalicelib.shared.timeutil import clock_minutes, iso
from chalicelib.shared.validation import is_whole

DAY = 86_400
KINDS = ("per_visit", "duration", "segments", "tiered", "free")
CYCLES = ("rolling_24h", "calendar_day")
REPEATS = ("repeat", "no_repeat")
VEHICLE_CLASSES = ("small", "large", "other")
MAX_NUMBER = 100_000_000  # no fen amount or minute count in a tariff comes near it
COMMON_FIELDS = ("kind", "free_minutes", "cycle", "repeat", "cap_per_cycle_fen")
KIND_FIELDS = {
    "per_visit": ("amount_fen",),
    "duration": ("first_block_minutes", "first_block_fen", "unit_minutes", "unit_fen", "min_per_cycle_fen"),
    "segments": ("segments",),
    "tiered": ("bands",),
    "free": (),
}
SEGMENT_FIELDS = ("start", "end", "unit_minutes", "unit_fen", "cap_fen", "label")
BAND_FIELDS = ("up_to_minutes", "amount_fen")


class TariffInvalid(ValueError):
    """A tariff definition with problems; `errors` lists every one of them."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# --------------------------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True)
class Segment:
    start: int  # minute of the day, 0..1439
    end: int  # minute of the day, 1..1440; end <= start means the segment wraps past midnight
    unit_minutes: int
    unit_fen: int
    cap_fen: int | None
    label: str

    @property
    def length(self) -> int:
        return (self.end - self.start) % 1440 or 1440

    def contains(self, minute: int) -> bool:
        return (minute - self.start) % 1440 < self.length


@dataclass(frozen=True)
class Band:
    up_to_minutes: int
    amount_fen: int


@dataclass(frozen=True)
class Tariff:
    kind: str
    free_minutes: int = 0
    cycle: str = "rolling_24h"
    repeat: str = "repeat"
    cap_per_cycle_fen: int | None = None
    # per_visit
    amount_fen: int = 0
    # duration
    first_block_minutes: int = 0
    first_block_fen: int = 0
    unit_minutes: int = 0
    unit_fen: int = 0
    min_per_cycle_fen: int | None = None
    # segments
    segments: tuple[Segment, ...] = ()
    # tiered
    bands: tuple[Band, ...] = ()

    @property
    def effective_cap(self) -> int | None:
        """The most one cycle can cost (a per-visit amount is its own cap)."""
        if self.kind == "free":
            return 0
        if self.kind == "per_visit":
            return (
                self.amount_fen
                if self.cap_per_cycle_fen is None
                else min(self.amount_fen, self.cap_per_cycle_fen)
            )
        return self.cap_per_cycle_fen

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "free_minutes": self.free_minutes,
            "cycle": self.cycle,
            "repeat": self.repeat,
            "cap_per_cycle_fen": self.cap_per_cycle_fen,
        }
        if self.kind == "per_visit":
            out["amount_fen"] = self.amount_fen
        elif self.kind == "duration":
            out.update(
                first_block_minutes=self.first_block_minutes,
                first_block_fen=self.first_block_fen,
                unit_minutes=self.unit_minutes,
                unit_fen=self.unit_fen,
                min_per_cycle_fen=self.min_per_cycle_fen,
            )
        elif self.kind == "segments":
            out["segments"] = [
                {
                    "start": _hhmm(s.start),
                    "end": _hhmm(s.end),
                    "unit_minutes": s.unit_minutes,
                    "unit_fen": s.unit_fen,
                    "cap_fen": s.cap_fen,
                    "label": s.label,
                }
                for s in self.segments
            ]
        elif self.kind == "tiered":
            out["bands"] = [
                {"up_to_minutes": b.up_to_minutes, "amount_fen": b.amount_fen} for b in self.bands
            ]
        return out


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


class _Reader:
    """Reads a JSON definition, collecting every problem instead of stopping at the first."""

    def __init__(self, data: Any, where: str = "") -> None:
        self.data = data if isinstance(data, dict) else {}
        self.where = where
        self.errors: list[str] = []

    def fail(self, message: str) -> None:
        self.errors.append(f"{self.where}{message}")

    def int_(self, name: str, default: int | None = None, *, minimum: int = 0, required: bool = False) -> int:
        value = self.data.get(name, default)
        if value is None:
            if required:
                self.fail(f"{name} is required")
            return 0 if default is None else default
        if not is_whole(value):
            self.fail(f"{name} must be an integer (money in fen, time in minutes)")
            return 0
        if value < minimum:
            self.fail(f"{name} must be at least {minimum}")
        if value > MAX_NUMBER:
            self.fail(f"{name} must be at most {MAX_NUMBER}")
            return 0
        return value

    def only(self, allowed: tuple[str, ...]) -> None:
        """Every field must be one the definition knows: a misspelt cap is refused, not dropped."""
        for name in self.data:
            if name not in allowed:
                self.fail(f"unknown field {str(name)[:40]!r}")

    def opt_int(self, name: str, *, minimum: int = 0) -> int | None:
        if self.data.get(name) is None:
            return None
        return self.int_(name, minimum=minimum)

    def choice(self, name: str, options: tuple[str, ...], default: str) -> str:
        value = self.data.get(name, default)
        if value not in options:
            self.fail(f"{name} must be one of {', '.join(options)}")
            return default
        return str(value)


def _clock(text: Any, name: str, reader: _Reader) -> int:
    try:
        return clock_minutes(text)
    except ValueError as exc:
        reader.fail(f"{name} {exc}")
        return 0


def _segments(raw: Any, reader: _Reader) -> tuple[Segment, ...]:
    if not isinstance(raw, list) or not raw:
        reader.fail("segments must be a non-empty list")
        return ()
    out: list[Segment] = []
    for index, item in enumerate(raw):
        sub = _Reader(item, f"segments[{index}].")
        if not isinstance(item, dict):
            sub.fail("must be an object")
        sub.only(SEGMENT_FIELDS)
        start = _clock(sub.data.get("start"), "start", sub)
        end = _clock(sub.data.get("end"), "end", sub)
        unit = sub.int_("unit_minutes", required=True, minimum=1)
        label = sub.data.get("label")
        segment = Segment(
            start=start % 1440,
            end=end if end else 1440,
            unit_minutes=unit,
            unit_fen=sub.int_("unit_fen", required=True),
            cap_fen=sub.opt_int("cap_fen"),
            label=str(label) if isinstance(label, str) and label else f"{_hhmm(start)}-{_hhmm(end)}",
        )
        reader.errors.extend(sub.errors)
        out.append(segment)
    if reader.errors:
        return tuple(out)
    ordered = sorted(out, key=lambda s: s.start)
    total = sum(s.length for s in ordered)
    for current, following in zip(ordered, ordered[1:] + ordered[:1], strict=True):
        if len(ordered) > 1 and current.end % 1440 != following.start:
            gap_or_overlap = (
                "overlaps"
                if current.contains(following.start) and following.start != current.start
                else ("leaves a gap before")
            )
            reader.fail(f"segment {current.label} {gap_or_overlap} segment {following.label}")
    if len(ordered) > 1 and len({s.start for s in ordered}) != len(ordered):
        reader.fail("two segments start at the same time")
    if total != 1440 and not any("segment" in e for e in reader.errors):
        reader.fail(f"segments must cover the 24 hours exactly once (they cover {total} minutes)")
    return tuple(ordered)


def _bands(raw: Any, reader: _Reader) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not raw:
        reader.fail("bands must be a non-empty list")
        return ()
    out: list[Band] = []
    for index, item in enumerate(raw):
        sub = _Reader(item, f"bands[{index}].")
        if not isinstance(item, dict):
            sub.fail("must be an object")
        sub.only(BAND_FIELDS)
        out.append(
            Band(sub.int_("up_to_minutes", required=True, minimum=1), sub.int_("amount_fen", required=True))
        )
        reader.errors.extend(sub.errors)
    for previous, current in itertools.pairwise(out):
        if current.up_to_minutes <= previous.up_to_minutes:
            reader.fail(
                f"bands must be in increasing order of up_to_minutes ({current.up_to_minutes} after "
                f"{previous.up_to_minutes})"
            )
        if current.amount_fen < previous.amount_fen:
            reader.fail(
                f"a longer band cannot cost less ({current.amount_fen} fen after {previous.amount_fen} fen)"
            )
    return tuple(out)


def parse(data: Any) -> Tariff:
    """A tariff from its JSON definition, or TariffInvalid listing every problem."""
    if not isinstance(data, dict):
        raise TariffInvalid(["a tariff must be a JSON object"])
    reader = _Reader(data)
    if "kind" not in data:
        reader.fail(f"kind is required (one of {', '.join(KINDS)})")
    kind = reader.choice("kind", KINDS, "free")
    reader.only(COMMON_FIELDS + KIND_FIELDS[kind])
    tariff = Tariff(
        kind=kind,
        free_minutes=reader.int_("free_minutes", 0),
        cycle=reader.choice("cycle", CYCLES, "rolling_24h"),
        repeat=reader.choice("repeat", REPEATS, "repeat"),
        cap_per_cycle_fen=reader.opt_int("cap_per_cycle_fen"),
    )
    if kind == "per_visit":
        tariff = replace(tariff, amount_fen=reader.int_("amount_fen", required=True))
    elif kind == "duration":
        tariff = replace(
            tariff,
            first_block_minutes=reader.int_("first_block_minutes", 0),
            first_block_fen=reader.int_("first_block_fen", 0),
            unit_minutes=reader.int_("unit_minutes", required=True, minimum=1),
            unit_fen=reader.int_("unit_fen", required=True),
            min_per_cycle_fen=reader.opt_int("min_per_cycle_fen"),
        )
        if (
            tariff.min_per_cycle_fen is not None
            and tariff.cap_per_cycle_fen is not None
            and tariff.min_per_cycle_fen > tariff.cap_per_cycle_fen
        ):
            reader.fail("min_per_cycle_fen cannot be above cap_per_cycle_fen")
    elif kind == "segments":
        tariff = replace(tariff, segments=_segments(data.get("segments"), reader))
    elif kind == "tiered":
        tariff = replace(tariff, bands=_bands(data.get("bands"), reader))
    if tariff.free_minutes > 1440:
        reader.fail("free_minutes must be at most 1440")
    if reader.errors:
        raise TariffInvalid(reader.errors)
    return tariff


# --------------------------------------------------------------------------------------------
# Clocks: local dates and times of day for a zone, as integer seconds since the epoch.


class _Clock:
    """Local time for a fixed UTC offset: pure integer arithmetic."""

    def __init__(self, offset_seconds: int) -> None:
        self.offset = offset_seconds

    def local(self, t: int) -> int:
        return t + self.offset

    def day(self, t: int) -> int:
        """Local date as a day number (days since 1970-01-01)."""
        return (t + self.offset) // DAY

    def second_of_day(self, t: int) -> int:
        return (t + self.offset) % DAY

    def next_midnight(self, t: int) -> int:
        return t + DAY - self.second_of_day(t)

    def midnight_of(self, t: int) -> int:
        return t - self.second_of_day(t)

    def next_clock(self, t: int, minute: int) -> int:
        """The first instant after t whose local time is `minute` of the day."""
        wait = (minute * 60 - self.second_of_day(t)) % DAY
        return t + (wait or DAY)


class _ZoneClock(_Clock):
    """Local time for a zone whose offset changes (daylight saving): exact, a little slower."""

    def __init__(self, zone: tzinfo) -> None:
        super().__init__(0)
        self.zone = zone

    def _dt(self, t: int) -> datetime:
        return datetime.fromtimestamp(t, self.zone)

    def local(self, t: int) -> int:
        offset = self._dt(t).utcoffset() or timedelta(0)
        return t + int(offset.total_seconds())

    def day(self, t: int) -> int:
        return self.local(t) // DAY

    def second_of_day(self, t: int) -> int:
        return self.local(t) % DAY

    def _instant(self, day: int, second: int) -> int:
        local = datetime(1970, 1, 1) + timedelta(days=day, seconds=second)
        return int(local.replace(tzinfo=self.zone).timestamp())

    def next_midnight(self, t: int) -> int:
        return self._instant(self.day(t) + 1, 0)

    def midnight_of(self, t: int) -> int:
        return self._instant(self.day(t), 0)

    def next_clock(self, t: int, minute: int) -> int:
        day = self.day(t)
        candidate = self._instant(day, minute * 60)
        while candidate <= t:
            day += 1
            candidate = self._instant(day, minute * 60)
        return candidate


def _clock_for(zone: tzinfo, start: int, end: int) -> _Clock:
    """A fixed-offset clock when the zone keeps one offset over the stay (Asia/Shanghai always
    does), else the exact zone clock."""
    years = range(
        datetime.fromtimestamp(start, UTC).year, datetime.fromtimestamp(max(start, end), UTC).year + 1
    )
    probes = [start, end] + [
        int(datetime(y, m, 1, tzinfo=UTC).timestamp()) for y in years for m in (1, 4, 7, 10)
    ]
    offsets = {datetime.fromtimestamp(p, zone).utcoffset() for p in probes}
    if len(offsets) == 1:
        only = offsets.pop() or timedelta(0)
        return _Clock(int(only.total_seconds()))
    return _ZoneClock(zone)


# --------------------------------------------------------------------------------------------
# Pricing


@dataclass(frozen=True)
class Carry:
    """no_repeat mode: the open cycle of this plate at this lot and what earlier visits owe in it."""

    cycle_start: datetime
    charged_fen: int


@dataclass(frozen=True)
class Part:
    label: str
    minutes: int
    units: int
    unit_minutes: int
    unit_fen: int
    amount_fen: int
    capped: bool

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "minutes": self.minutes,
            "units": self.units,
            "unit_minutes": self.unit_minutes,
            "unit_fen": self.unit_fen,
            "amount_fen": self.amount_fen,
            "capped": self.capped,
        }


@dataclass(frozen=True)
class CycleCharge:
    """One cycle (or `count` identical consecutive cycles) of a stay."""

    index: int
    count: int
    start: int  # what this line covers: the stay's part of the cycle, or the run of cycles
    end: int
    cycle_start: int
    minutes: int
    holiday: bool
    raw_fen: int
    cap_fen: int | None
    earlier_visits_fen: int
    amount_fen: int  # per cycle
    parts: tuple[Part, ...]

    @property
    def total_fen(self) -> int:
        return self.amount_fen * self.count

    def to_dict(self) -> dict[str, Any]:
        if self.count == 1:
            label = f"第{self.index}个计费周期"
        else:
            kind = "节假日" if self.holiday else "普通日"
            label = f"自第{self.index}个周期起的{self.count}个完整{kind}周期, 每个 {self.amount_fen} 分"
        out: dict[str, Any] = {
            "kind": "cycle",
            "label": label + (" (节假日)" if self.holiday and self.count == 1 else ""),
            "index": self.index,
            "count": self.count,
            "start": iso(datetime.fromtimestamp(self.start, UTC)),
            "end": iso(datetime.fromtimestamp(self.end, UTC)),
            "minutes": self.minutes,
            "holiday": self.holiday,
            "raw_fen": self.raw_fen,
            "cap_fen": self.cap_fen,
            "capped": self.cap_fen is not None and self.raw_fen > self.cap_fen,
            "earlier_visits_fen": self.earlier_visits_fen,
            "per_cycle_fen": self.amount_fen,
            "amount_fen": self.total_fen,
            "parts": [p.to_dict() for p in self.parts],
        }
        return out


@dataclass(frozen=True)
class Price:
    total_fen: int
    free: bool
    free_minutes: int
    stay_minutes: int
    cycles: tuple[CycleCharge, ...] = field(default_factory=tuple)

    @property
    def last_cycle(self) -> tuple[datetime, int] | None:
        """Start of the stay's last cycle and what this stay owes in it (no_repeat carry-over)."""
        if not self.cycles:
            return None
        last = self.cycles[-1]
        return datetime.fromtimestamp(last.cycle_start, UTC), last.amount_fen

    def breakdown(self) -> list[dict[str, Any]]:
        lines: list[dict[str, Any]] = []
        if self.free_minutes:
            lines.append(
                {
                    "kind": "free",
                    "label": (
                        f"免费时长 {self.free_minutes} 分钟内, 不收费"
                        if self.free
                        else f"停车 {self.stay_minutes} 分钟, 超过免费时长 {self.free_minutes} 分钟, "
                        "从入场起计费"
                    ),
                    "minutes": self.free_minutes,
                    "amount_fen": 0,
                }
            )
        lines.extend(c.to_dict() for c in self.cycles)
        return lines


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _raw_cycle(tariff: Tariff, clock: _Clock, start: int, end: int) -> tuple[int, tuple[Part, ...]]:
    """What one cycle piece [start, end) costs before the cycle cap."""
    seconds = end - start
    if tariff.kind == "free":
        return 0, ()
    if tariff.kind == "per_visit":
        return tariff.amount_fen, (
            Part("按次", _ceil_div(seconds, 60), 1, 0, tariff.amount_fen, tariff.amount_fen, False),
        )
    if tariff.kind == "duration":
        block = tariff.first_block_minutes * 60
        parts: list[Part] = []
        amount = 0
        if block:
            amount += tariff.first_block_fen
            parts.append(
                Part(
                    f"首段 {tariff.first_block_minutes} 分钟",
                    _ceil_div(min(seconds, block), 60),
                    1,
                    tariff.first_block_minutes,
                    tariff.first_block_fen,
                    tariff.first_block_fen,
                    False,
                )
            )
        rest = max(0, seconds - block)
        if rest or not block:
            units = _ceil_div(rest, tariff.unit_minutes * 60)
            parts.append(
                Part(
                    f"每 {tariff.unit_minutes} 分钟",
                    _ceil_div(rest, 60),
                    units,
                    tariff.unit_minutes,
                    tariff.unit_fen,
                    units * tariff.unit_fen,
                    False,
                )
            )
            amount += units * tariff.unit_fen
        if tariff.min_per_cycle_fen is not None and amount < tariff.min_per_cycle_fen:
            parts.append(Part("周期最低收费补足", 0, 0, 0, 0, tariff.min_per_cycle_fen - amount, False))
            amount = tariff.min_per_cycle_fen
        return amount, tuple(parts)
    if tariff.kind == "tiered":
        minutes = _ceil_div(seconds, 60)
        band = next((b for b in tariff.bands if seconds <= b.up_to_minutes * 60), tariff.bands[-1])
        return band.amount_fen, (
            Part(f"梯次 ≤{band.up_to_minutes} 分钟", minutes, 1, 0, band.amount_fen, band.amount_fen, False),
        )
    return _segments_cost(tariff, clock, start, end)


def _segments_cost(tariff: Tariff, clock: _Clock, start: int, end: int) -> tuple[int, tuple[Part, ...]]:
    """Split [start, end) into occurrences of the clock segments; each occurrence counts its
    started units and is capped on its own."""
    occurrences: list[tuple[Segment, int]] = []
    t = start
    while t < end:
        minute = clock.second_of_day(t) // 60
        segment = next(s for s in tariff.segments if s.contains(minute))
        boundary = (
            min(end, clock.next_clock(t, segment.end % 1440))
            if len(tariff.segments) > 1
            else min(end, clock.next_clock(t, segment.start))
        )
        if occurrences and occurrences[-1][0] is segment:
            occurrences[-1] = (segment, occurrences[-1][1] + boundary - t)
        else:
            occurrences.append((segment, boundary - t))
        t = boundary
    parts: list[Part] = []
    total = 0
    for segment, seconds in occurrences:
        units = _ceil_div(seconds, segment.unit_minutes * 60)
        raw = units * segment.unit_fen
        capped = segment.cap_fen is not None and raw > segment.cap_fen
        amount = segment.cap_fen if capped and segment.cap_fen is not None else raw
        parts.append(
            Part(
                segment.label,
                _ceil_div(seconds, 60),
                units,
                segment.unit_minutes,
                segment.unit_fen,
                amount,
                capped,
            )
        )
        total += amount
    return total, tuple(parts)


@dataclass(frozen=True)
class Calendar:
    """The lot's holidays (local dates) and the tariff used on them, if any."""

    holidays: tuple[int, ...] = ()  # sorted day numbers (days since 1970-01-01)
    holiday_tariff: Tariff | None = None

    @classmethod
    def of(cls, dates: list[date] | tuple[date, ...], holiday_tariff: Tariff | None) -> Calendar:
        epoch = date(1970, 1, 1).toordinal()
        return cls(tuple(sorted({d.toordinal() - epoch for d in dates})), holiday_tariff)

    def is_holiday(self, day: int) -> bool:
        index = bisect.bisect_left(self.holidays, day)
        return index < len(self.holidays) and self.holidays[index] == day

    def count(self, first_day: int, days: int) -> int:
        """Holidays among `days` consecutive days from first_day."""
        return bisect.bisect_left(self.holidays, first_day + days) - bisect.bisect_left(
            self.holidays, first_day
        )


NO_HOLIDAYS = Calendar()


def _cycle(
    base: Tariff,
    calendar: Calendar,
    clock: _Clock,
    index: int,
    cycle_start: int,
    start: int,
    end: int,
    earlier: int,
) -> CycleCharge:
    holiday = calendar.holiday_tariff is not None and calendar.is_holiday(clock.day(cycle_start))
    tariff = calendar.holiday_tariff if holiday and calendar.holiday_tariff is not None else base
    raw, parts = _raw_cycle(tariff, clock, start, end)
    cap = tariff.effective_cap
    amount = raw if cap is None else min(raw, max(0, cap - earlier))
    return CycleCharge(
        index,
        1,
        start,
        end,
        cycle_start,
        _ceil_div(end - start, 60),
        holiday,
        raw,
        cap,
        earlier,
        amount,
        parts,
    )


def price(
    tariff: Tariff,
    entered_at: datetime,
    until: datetime,
    zone: tzinfo,
    calendar: Calendar = NO_HOLIDAYS,
    carry: Carry | None = None,
) -> Price:
    """The fee for a stay from `entered_at` to `until` (aware datetimes) at a lot in `zone`."""
    if entered_at.tzinfo is None or until.tzinfo is None:
        raise ValueError("times must be timezone-aware")
    start = int(entered_at.timestamp())
    end = max(start, int(until.timestamp()))
    stay_minutes = _ceil_div(end - start, 60)
    if end - start <= tariff.free_minutes * 60 or tariff.kind == "free":
        return Price(0, True, tariff.free_minutes, stay_minutes)
    clock = _clock_for(zone, start, end)

    # The first cycle: carried over from earlier visits in no_repeat mode, else starting now.
    earlier = 0
    cycle_start = clock.midnight_of(start) if tariff.cycle == "calendar_day" else start
    if tariff.repeat == "no_repeat" and carry is not None:
        carried = int(carry.cycle_start.timestamp())
        if tariff.cycle == "calendar_day":
            same = clock.day(carried) == clock.day(start)
        else:
            same = carried <= start < carried + DAY
        if same:
            cycle_start, earlier = carried, carry.charged_fen

    def cycle_end(s: int) -> int:
        return clock.next_midnight(s) if tariff.cycle == "calendar_day" else s + DAY

    first_end = cycle_end(cycle_start)
    cycles = [_cycle(tariff, calendar, clock, 1, cycle_start, start, min(end, first_end), earlier)]
    t, index = first_end, 2
    fixed = type(clock) is _Clock
    while t < end:
        # Full cycles before the last one are identical but for holidays (with a fixed offset):
        # price one ordinary and one holiday cycle and count them. The last cycle stays single.
        full = (end - t - 1) // DAY if fixed else 0
        if full >= 2:
            day0 = clock.day(t)
            holidays = calendar.count(day0, full) if calendar.holiday_tariff is not None else 0
            for count, is_holiday in ((full - holidays, False), (holidays, True)):
                if not count:
                    continue
                offset = next(k for k in range(full) if calendar.is_holiday(day0 + k) == is_holiday)
                sample = t + offset * DAY
                one = _cycle(tariff, calendar, clock, index, sample, sample, sample + DAY, 0)
                cycles.append(replace(one, count=count, start=t, end=t + full * DAY))
            index += full
            t += full * DAY
            continue
        nxt = cycle_end(t)
        cycles.append(_cycle(tariff, calendar, clock, index, t, t, min(end, nxt), 0))
        index += 1
        t = nxt
    total = sum(c.total_fen for c in cycles)
    return Price(total, False, tariff.free_minutes, stay_minutes, tuple(cycles))
