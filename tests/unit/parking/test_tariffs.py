"""The fee engine, from the spec's descriptions (domain.md §2.2): one example test per tariff kind
and cycle mode, and property tests for the rules every operator relies on."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.parking.domain import tariffs
from chalicelib.parking.domain.tariffs import Calendar, Carry, Tariff, TariffInvalid

SH = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A local Shanghai time in November 2026."""
    return datetime(2026, 11, day, hour, minute, tzinfo=SH)


def fee(tariff: Tariff, start: datetime, end: datetime, **kw: object) -> int:
    return tariffs.price(tariff, start, end, SH, **kw).total_fen  # type: ignore[arg-type]


PER_VISIT = tariffs.parse({"kind": "per_visit", "amount_fen": 1000, "free_minutes": 15})
DURATION = tariffs.parse(
    {
        "kind": "duration",
        "free_minutes": 15,
        "first_block_minutes": 120,
        "first_block_fen": 500,
        "unit_minutes": 60,
        "unit_fen": 200,
        "cap_per_cycle_fen": 2500,
    }
)
SEGMENTS = tariffs.parse(
    {
        "kind": "segments",
        "free_minutes": 30,
        "segments": [
            {
                "start": "08:00",
                "end": "20:00",
                "unit_minutes": 60,
                "unit_fen": 300,
                "cap_fen": 2000,
                "label": "白天",
            },
            {
                "start": "20:00",
                "end": "08:00",
                "unit_minutes": 60,
                "unit_fen": 100,
                "cap_fen": 500,
                "label": "夜间",
            },
        ],
    }
)
TIERED = tariffs.parse(
    {
        "kind": "tiered",
        "free_minutes": 15,
        "bands": [
            {"up_to_minutes": 120, "amount_fen": 500},
            {"up_to_minutes": 480, "amount_fen": 1200},
            {"up_to_minutes": 1380, "amount_fen": 2000},
            {"up_to_minutes": 1440, "amount_fen": 2500},
        ],
    }
)
FREE = tariffs.parse({"kind": "free"})


# --- examples, one per kind -------------------------------------------------------------------


def test_per_visit_charges_each_cycle_once() -> None:
    assert fee(PER_VISIT, at(22, 9), at(22, 9, 15)) == 0  # inside the free minutes
    assert fee(PER_VISIT, at(22, 9), at(22, 18)) == 1000
    assert fee(PER_VISIT, at(22, 9), at(23, 10)) == 2000  # a second rolling cycle started at 09:00


def test_per_visit_on_calendar_days_charges_every_day_touched() -> None:
    daily = tariffs.parse({"kind": "per_visit", "amount_fen": 1000, "cycle": "calendar_day"})
    assert fee(daily, at(22, 23), at(23, 1)) == 2000  # 23:00 to 01:00 touches two days
    assert fee(daily, at(22, 0), at(24, 23, 59)) == 3000


def test_duration_first_block_then_started_units_capped_per_cycle() -> None:
    assert fee(DURATION, at(22, 9), at(22, 9, 15)) == 0
    assert fee(DURATION, at(22, 9), at(22, 9, 16)) == 500  # charged from the start: first block
    assert fee(DURATION, at(22, 9), at(22, 11)) == 500
    assert fee(DURATION, at(22, 9), at(22, 11, 1)) == 700  # one started hour after the block
    assert fee(DURATION, at(22, 9), at(22, 20)) == 2300
    assert fee(DURATION, at(22, 9), at(22, 21)) == 2500  # the cap
    # a new cycle starts afresh with its own first block
    assert fee(DURATION, at(22, 9), at(23, 9, 30)) == 2500 + 500


def test_duration_minimum_per_cycle() -> None:
    with_min = tariffs.parse(
        {"kind": "duration", "unit_minutes": 60, "unit_fen": 100, "min_per_cycle_fen": 300}
    )
    result = tariffs.price(with_min, at(22, 9), at(22, 10), SH)
    assert result.total_fen == 300
    assert [p.amount_fen for p in result.cycles[0].parts] == [100, 200]


def test_segments_price_each_piece_with_its_own_unit_and_cap() -> None:
    # 18:00-22:00: 2 day hours (600) + 2 night hours (200)
    assert fee(SEGMENTS, at(22, 18), at(22, 22)) == 800
    # 07:30-20:30: 30 min night (100) + 12 h day (capped at 2000) + 30 min night (100)
    assert fee(SEGMENTS, at(22, 7, 30), at(22, 20, 30)) == 100 + 2000 + 100
    # overnight 20:00-08:00 is one night occurrence: 12 units capped at 500
    assert fee(SEGMENTS, at(22, 20), at(23, 8)) == 500


def test_segments_breakdown_names_the_segments_and_caps() -> None:
    result = tariffs.price(SEGMENTS, at(22, 7), at(22, 21), SH)
    [cycle] = result.breakdown()[1:]
    assert [(p["label"], p["minutes"], p["amount_fen"], p["capped"]) for p in cycle["parts"]] == [
        ("夜间", 60, 100, False),
        ("白天", 720, 2000, True),
        ("夜间", 60, 100, False),
    ]


def test_tiered_bands() -> None:
    assert fee(TIERED, at(22, 9), at(22, 9, 10)) == 0
    assert fee(TIERED, at(22, 9), at(22, 10)) == 500
    assert fee(TIERED, at(22, 9), at(22, 11, 1)) == 1200
    assert fee(TIERED, at(22, 9), at(22, 20)) == 2000
    assert fee(TIERED, at(22, 9), at(23, 8, 30)) == 2500
    assert fee(TIERED, at(22, 9), at(23, 10)) == 2500 + 500


def test_free_tariff() -> None:
    assert fee(FREE, at(22, 9), at(29, 9)) == 0


# --- cycles, repeat modes, holidays ---------------------------------------------------------


def test_calendar_day_cycles_restart_at_the_lots_midnight() -> None:
    daily = tariffs.parse({**DURATION.to_dict(), "cycle": "calendar_day"})
    result = tariffs.price(daily, at(22, 22), at(23, 2), SH)
    assert [c.minutes for c in result.cycles] == [120, 120]  # split at local midnight, not UTC
    assert result.total_fen == 500 + 500


def test_no_repeat_cap_holds_across_visits_of_a_cycle() -> None:
    capped = tariffs.parse({**DURATION.to_dict(), "repeat": "no_repeat"})
    first = tariffs.price(capped, at(22, 8), at(22, 20), SH)
    assert first.total_fen == 2500
    last = first.last_cycle
    assert last is not None
    second = tariffs.price(capped, at(22, 21), at(22, 23), SH, carry=Carry(last[0], last[1]))
    assert second.total_fen == 0  # the cycle that began at 08:00 already paid its cap
    after = tariffs.price(capped, at(23, 9), at(23, 10), SH, carry=Carry(last[0], last[1]))
    assert after.total_fen == 500  # a visit after the cycle ended starts a new one


def test_no_repeat_per_visit_tariff_charges_a_cycle_once() -> None:
    once = tariffs.parse({"kind": "per_visit", "amount_fen": 800, "repeat": "no_repeat"})
    first = tariffs.price(once, at(22, 8), at(22, 9), SH)
    assert first.last_cycle is not None
    again = tariffs.price(once, at(22, 12), at(22, 13), SH, carry=Carry(*first.last_cycle))
    assert (first.total_fen, again.total_fen) == (800, 0)


def test_repeat_mode_bills_each_visit_alone() -> None:
    first = tariffs.price(DURATION, at(22, 8), at(22, 20), SH)
    assert first.last_cycle is not None
    second = tariffs.price(DURATION, at(22, 21), at(22, 23), SH, carry=Carry(*first.last_cycle))
    assert second.total_fen == 500


def test_holidays_switch_the_tariff_of_the_cycles_that_start_on_them() -> None:
    holiday_rate = tariffs.parse({"kind": "per_visit", "amount_fen": 100})
    calendar = Calendar.of([date(2026, 11, 23)], holiday_rate)
    result = tariffs.price(DURATION, at(22, 9), at(24, 10), SH, calendar=calendar)
    assert [c.holiday for c in result.cycles] == [False, True, False]
    assert result.total_fen == 2500 + 100 + 500


def test_a_year_is_priced_per_run_of_cycles_and_adds_up() -> None:
    holiday_rate = tariffs.parse({"kind": "per_visit", "amount_fen": 100})
    holidays = [date(2027, 1, 1), date(2027, 5, 1), date(2027, 10, 1)]
    result = tariffs.price(
        SEGMENTS, at(22, 9), at(22, 9) + timedelta(days=365), SH, Calendar.of(holidays, holiday_rate)
    )
    assert len(result.cycles) <= 5
    assert sum(c.count for c in result.cycles) == 365
    ordinary = tariffs.price(SEGMENTS, at(22, 9), at(23, 9), SH).total_fen
    assert result.total_fen == 362 * ordinary + 3 * 100
    assert sum(line["amount_fen"] for line in result.breakdown()) == result.total_fen


def test_a_zone_with_daylight_saving_is_priced_by_its_local_clock() -> None:
    paris = ZoneInfo("Europe/Paris")
    daily = tariffs.parse({"kind": "per_visit", "amount_fen": 500, "cycle": "calendar_day"})
    start = datetime(2026, 3, 28, 12, tzinfo=paris)  # clocks go forward on the 29th
    result = tariffs.price(daily, start, start + timedelta(days=3), paris)
    assert result.total_fen == 4 * 500
    assert [c.minutes for c in result.cycles][:2] == [720, 1380]  # the 29th has 23 hours


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ({"kind": "hourly"}, "kind must be one of"),
        ({"kind": "per_visit", "amount_fen": -1}, "amount_fen must be at least 0"),
        ({"kind": "per_visit", "amount_fen": 9.5}, "must be an integer"),
        ({"kind": "duration", "unit_minutes": 0, "unit_fen": 100}, "unit_minutes must be at least 1"),
        ({"kind": "duration", "unit_fen": 100}, "unit_minutes is required"),
        (
            {
                "kind": "duration",
                "unit_minutes": 60,
                "unit_fen": 1,
                "min_per_cycle_fen": 9,
                "cap_per_cycle_fen": 5,
            },
            "min_per_cycle_fen cannot be above",
        ),
        (
            {
                "kind": "segments",
                "segments": [
                    {"start": "08:00", "end": "20:00", "unit_minutes": 60, "unit_fen": 1},
                    {"start": "19:00", "end": "08:00", "unit_minutes": 60, "unit_fen": 1},
                ],
            },
            "overlaps",
        ),
        (
            {
                "kind": "segments",
                "segments": [
                    {"start": "08:00", "end": "18:00", "unit_minutes": 60, "unit_fen": 1},
                    {"start": "20:00", "end": "08:00", "unit_minutes": 60, "unit_fen": 1},
                ],
            },
            "leaves a gap",
        ),
        ({"kind": "segments", "segments": [{"start": "8am", "end": "20:00"}]}, "must be HH:MM"),
        (
            {
                "kind": "tiered",
                "bands": [{"up_to_minutes": 480, "amount_fen": 9}, {"up_to_minutes": 120, "amount_fen": 5}],
            },
            "increasing order",
        ),
        (
            {
                "kind": "tiered",
                "bands": [{"up_to_minutes": 60, "amount_fen": 9}, {"up_to_minutes": 120, "amount_fen": 5}],
            },
            "cannot cost less",
        ),
        ({"kind": "free", "cycle": "weekly"}, "cycle must be one of"),
        ({"kind": "free", "repeat": "sometimes"}, "repeat must be one of"),
    ],
)
def test_invalid_definitions_say_what_is_wrong(definition: dict, message: str) -> None:
    with pytest.raises(TariffInvalid) as raised:
        tariffs.parse(definition)
    assert any(message in e for e in raised.value.errors), raised.value.errors


def test_all_problems_are_listed_at_once() -> None:
    with pytest.raises(TariffInvalid) as raised:
        tariffs.parse({"kind": "duration", "unit_minutes": 0, "unit_fen": -3, "free_minutes": -1})
    assert len(raised.value.errors) == 3


def test_a_definition_survives_a_round_trip() -> None:
    for tariff in (PER_VISIT, DURATION, SEGMENTS, TIERED, FREE):
        assert tariffs.parse(tariff.to_dict()) == tariff


# --- properties -------------------------------------------------------------------------------

KINDS = st.sampled_from([PER_VISIT, DURATION, SEGMENTS, TIERED, FREE])
CYCLE_MODES = st.sampled_from(["rolling_24h", "calendar_day"])
ENTRIES = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC))
STAYS = st.integers(0, 40 * 24 * 3600)


def with_cycle(tariff: Tariff, cycle: str, repeat: str = "repeat") -> Tariff:
    return tariffs.parse({**tariff.to_dict(), "cycle": cycle, "repeat": repeat})


@given(KINDS, CYCLE_MODES, ENTRIES, STAYS)
def test_a_stay_inside_the_free_minutes_costs_nothing(
    tariff: Tariff, cycle: str, entered: datetime, s: int
) -> None:
    tariff = with_cycle(tariff, cycle)
    stay = s % (tariff.free_minutes * 60 + 1)
    assert tariffs.price(tariff, entered, entered + timedelta(seconds=stay), SH).total_fen == 0


@given(KINDS, CYCLE_MODES, ENTRIES, STAYS)
def test_the_breakdown_sums_to_the_total_and_no_cycle_exceeds_its_cap(
    tariff: Tariff, cycle: str, entered: datetime, s: int
) -> None:
    tariff = with_cycle(tariff, cycle)
    result = tariffs.price(tariff, entered, entered + timedelta(seconds=s), SH)
    assert sum(line["amount_fen"] for line in result.breakdown()) == result.total_fen
    for charge in result.cycles:
        assert isinstance(charge.amount_fen, int)
        if tariff.effective_cap is not None:
            assert charge.amount_fen <= tariff.effective_cap
        assert sum(p.amount_fen for p in charge.parts) == charge.raw_fen


@given(
    st.sampled_from([PER_VISIT, DURATION, SEGMENTS, TIERED]),
    CYCLE_MODES,
    ENTRIES,
    st.lists(st.tuples(st.integers(0, 6 * 3600), st.integers(0, 10 * 3600)), min_size=1, max_size=6),
)
def test_in_no_repeat_mode_a_cycles_visits_never_exceed_its_cap(
    tariff: Tariff, cycle: str, entered: datetime, visits: list[tuple[int, int]]
) -> None:
    tariff = with_cycle(tariff, cycle, "no_repeat")
    if tariff.effective_cap is None:
        tariff = tariffs.parse({**tariff.to_dict(), "cap_per_cycle_fen": 2000})
    cap = tariff.effective_cap
    assert cap is not None
    carry: Carry | None = None
    owed: dict[datetime, int] = {}
    t = entered
    for gap, stay in visits:
        t += timedelta(seconds=gap)
        result = tariffs.price(tariff, t, t + timedelta(seconds=stay), SH, carry=carry)
        for charge in result.cycles:
            start = datetime.fromtimestamp(charge.cycle_start, UTC)
            owed[start] = owed.get(start, 0) + charge.total_fen
        if result.last_cycle is not None:
            start, amount = result.last_cycle
            previous = carry.charged_fen if carry is not None and carry.cycle_start == start else 0
            carry = Carry(start, previous + amount)
        t += timedelta(seconds=stay)
    assert all(amount <= cap for amount in owed.values()), owed


@given(
    st.sampled_from([DURATION, TIERED, SEGMENTS]),
    CYCLE_MODES,
    ENTRIES,
    st.integers(0, 23 * 3600),
    st.integers(0, 3600),
)
def test_a_longer_stay_in_the_same_cycle_never_costs_less(
    tariff: Tariff, cycle: str, entered: datetime, stay: int, more: int
) -> None:
    tariff = with_cycle(tariff, cycle)
    shorter = tariffs.price(tariff, entered, entered + timedelta(seconds=stay), SH).total_fen
    longer = tariffs.price(tariff, entered, entered + timedelta(seconds=stay + more), SH).total_fen
    assert longer >= shorter


@settings(max_examples=30)
@given(KINDS, ENTRIES, STAYS, st.sampled_from(["UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"]))
def test_pricing_is_deterministic_and_ignores_the_machines_time_zone(
    tariff: Tariff, entered: datetime, s: int, machine_zone: str
) -> None:
    exited = entered + timedelta(seconds=s)
    expected = tariffs.price(tariff, entered, exited, SH)
    saved = os.environ.get("TZ")
    os.environ["TZ"] = machine_zone
    time.tzset()
    try:
        again = tariffs.price(tariff, entered.astimezone(SH), exited.astimezone(ZoneInfo(machine_zone)), SH)
    finally:
        if saved is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = saved
        time.tzset()
    assert again == expected
    assert again.breakdown() == expected.breakdown()
