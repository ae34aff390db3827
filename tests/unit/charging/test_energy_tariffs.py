"""Charging tariffs: uniform and time-of-use on a 30-minute grid, interpolation across periods,
rounding once so every part adds up; e-bike duration and power bands; effective dates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from fractions import Fraction
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.charging.domain import energy_tariffs as et

SH = ZoneInfo("Asia/Shanghai")
TOU = et.parse_ev(
    {
        "kind": "time_of_use",
        "periods": {
            "sharp": {"electricity": 13000, "service": 8000},
            "peak": {"electricity": 11000, "service": 8000},
            "flat": {"electricity": 7000, "service": 8000},
            "valley": {"electricity": 3500, "service": 8000},
        },
        "schedule": [
            {"start": "00:00", "end": "08:00", "period": "valley"},
            {"start": "08:00", "end": "10:30", "period": "peak"},
            {"start": "10:30", "end": "11:30", "period": "sharp"},
            {"start": "11:30", "end": "18:00", "period": "flat"},
            {"start": "18:00", "end": "22:00", "period": "peak"},
            {"start": "22:00", "end": "24:00", "period": "valley"},
        ],
    }
)
UNIFORM = et.parse_ev({"kind": "uniform", "electricity": 8523, "service": 6000})


def local(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, 22, hour, minute, tzinfo=SH)


def test_uniform_has_one_no_period_bucket() -> None:
    bill = et.ev_bill(UNIFORM, [(local(9), 0), (local(10), 10_000)], SH)
    assert [line.period for line in bill.lines] == ["none"]
    assert (bill.energy_wh, bill.electricity_fen, bill.service_fen, bill.total_fen) == (
        10_000,
        852,
        600,
        1452,
    )


def test_energy_across_a_period_boundary_is_interpolated() -> None:
    bill = et.ev_bill(TOU, [(local(7, 30), 0), (local(8, 30), 10_000)], SH)
    assert {line.period: line.energy_wh for line in bill.lines} == {"valley": 5000, "peak": 5000}
    assert bill.electricity_fen == 175 + 550 and bill.service_fen == 800
    assert bill.total_fen == 1525


def test_five_periods_and_more_are_fine() -> None:
    readings = [(local(h), h * 1000) for h in range(0, 24)]
    bill = et.ev_bill(TOU, readings, SH)
    assert {line.period for line in bill.lines} == {"sharp", "peak", "flat", "valley"}
    assert bill.energy_wh == 23_000


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        (
            [
                {"start": "00:00", "end": "08:15", "period": "a"},
                {"start": "08:15", "end": "24:00", "period": "a"},
            ],
            "not on the 30-minute grid",
        ),
        (
            [
                {"start": "00:00", "end": "08:00", "period": "a"},
                {"start": "09:00", "end": "24:00", "period": "a"},
            ],
            "must cover all 24 hours",
        ),
        (
            [
                {"start": "00:00", "end": "12:00", "period": "a"},
                {"start": "11:00", "end": "24:00", "period": "a"},
            ],
            "overlaps",
        ),
        ([{"start": "00:00", "end": "24:00", "period": "b"}], "is not one of the periods"),
    ],
)
def test_invalid_time_of_use_grids(schedule: list[dict[str, str]], message: str) -> None:
    with pytest.raises(et.ChargingTariffInvalid) as raised:
        et.parse_ev(
            {"kind": "time_of_use", "periods": {"a": {"electricity": 1, "service": 1}}, "schedule": schedule}
        )
    assert any(message in e for e in raised.value.errors), raised.value.errors


def test_prices_must_be_whole_numbers() -> None:
    with pytest.raises(et.ChargingTariffInvalid):
        et.parse_ev({"kind": "uniform", "electricity": 0.85, "service": 600})


def test_round_trip() -> None:
    assert et.parse_ev(et.ev_to_dict(TOU)) == TOU and et.parse_ev(et.ev_to_dict(UNIFORM)) == UNIFORM


def test_estimate_of_the_next_reading_uses_the_recent_power_and_the_price_now() -> None:
    readings = [(local(12), 0), (local(12, 1), 500)]  # 30 kW, flat: 1.5 yuan/kWh
    so_far = et.ev_bill(TOU, readings, SH).total_fen
    assert et.estimate_next(TOU, readings, SH, local(12, 1), timedelta(seconds=60)) == so_far + 75


def test_ebike_duration_and_power_bands() -> None:
    duration = et.parse_ebike(
        {"kind": "duration", "unit_minutes": 60, "unit_fen": 100, "free_minutes": 5, "auto_stop_minutes": 480}
    )
    assert et.ebike_bill(duration, local(9), local(9, 4), 0)["total_fen"] == 0
    assert et.ebike_bill(duration, local(9), local(10, 1), 0)["total_fen"] == 200
    assert et.ebike_bill(duration, local(9), local(23), 0)["total_fen"] == 800  # the 8 h auto-stop limit
    bands = et.parse_ebike(
        {
            "kind": "power_band",
            "unit_minutes": 60,
            "free_minutes": 0,
            "auto_stop_minutes": 600,
            "bands": [{"up_to_w": 200, "unit_fen": 50}, {"up_to_w": 500, "unit_fen": 100}],
        }
    )
    assert et.ebike_bill(bands, local(9), local(11), 180)["total_fen"] == 100
    assert et.ebike_bill(bands, local(9), local(11), 400)["total_fen"] == 200
    with pytest.raises(et.ChargingTariffInvalid) as raised:
        et.parse_ebike({"kind": "duration", "unit_minutes": 60, "unit_fen": 1, "auto_stop_minutes": 49 * 60})
    assert "48 hours" in raised.value.errors[0]


def test_a_change_takes_effect_at_the_next_local_midnight() -> None:
    assert et.effective_from(local(15), SH) == datetime(2026, 11, 23, tzinfo=SH)
    assert et.effective_from(datetime(2026, 11, 22, 16, 30, tzinfo=UTC), SH) == datetime(
        2026, 11, 24, tzinfo=SH
    )
    assert et.effective_from(local(0), SH) == datetime(2026, 11, 23, tzinfo=SH)


readings_strategy = st.lists(
    st.tuples(st.integers(1, 4 * 3600), st.integers(0, 60_000)), min_size=1, max_size=12
)
starts = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


def build(start: datetime, steps: list[tuple[int, int]]) -> list[tuple[datetime, int]]:
    readings = [(start, 100_000)]
    for seconds, wh in steps:
        t, total = readings[-1]
        readings.append((t + timedelta(seconds=seconds), total + wh))
    return readings


@given(st.sampled_from([TOU, UNIFORM]), starts, readings_strategy)
def test_every_part_adds_up_and_is_a_whole_number(tariff: et.EvTariff, start: datetime, steps: list) -> None:
    bill = et.ev_bill(tariff, build(start, steps), SH)
    assert bill.total_fen == bill.electricity_fen + bill.service_fen
    assert sum(line.energy_wh for line in bill.lines) == bill.energy_wh == sum(wh for _, wh in steps)
    assert sum(line.electricity_fen for line in bill.lines) == bill.electricity_fen
    assert sum(line.service_fen for line in bill.lines) == bill.service_fen
    for line in bill.lines:
        for value in (line.energy_wh, line.electricity_fen, line.service_fen):
            assert isinstance(value, int) and value >= 0


@given(starts, readings_strategy)
def test_rounding_happens_once(start: datetime, steps: list) -> None:
    readings = build(start, steps)
    bill = et.ev_bill(UNIFORM, readings, SH)
    energy = sum(wh for _, wh in steps)
    assert abs(bill.electricity_fen - Fraction(energy * 8523, 100_000)) <= Fraction(1, 2)
    assert abs(bill.service_fen - Fraction(energy * 6000, 100_000)) <= Fraction(1, 2)


@given(st.sampled_from([TOU, UNIFORM]), starts, readings_strategy, st.integers(1, 5000))
def test_more_energy_never_costs_less(tariff: et.EvTariff, start: datetime, steps: list, extra: int) -> None:
    readings = build(start, steps)
    more = [*readings[:-1], (readings[-1][0], readings[-1][1] + extra)]
    assert et.ev_bill(tariff, more, SH).total_fen >= et.ev_bill(tariff, readings, SH).total_fen


@given(starts, readings_strategy, st.integers(-12 * 60, 14 * 60))
def test_the_bill_does_not_depend_on_how_instants_are_written(
    start: datetime, steps: list, offset: int
) -> None:
    readings = build(start, steps)
    zone = timezone(timedelta(minutes=offset))
    shifted = [(t.astimezone(zone), wh) for t, wh in readings]
    assert et.ev_bill(TOU, shifted, SH) == et.ev_bill(TOU, readings, SH)


@given(starts, readings_strategy)
def test_a_lower_reading_adds_no_energy(start: datetime, steps: list) -> None:
    readings = build(start, steps)
    dropped = [*readings, (readings[-1][0] + timedelta(minutes=1), 0)]
    assert et.ev_bill(TOU, dropped, SH).energy_wh == et.ev_bill(TOU, readings, SH).energy_wh


def test_the_estimate_survives_readings_less_than_a_second_apart() -> None:
    readings = [(local(12), 0), (local(12) + timedelta(milliseconds=300), 5)]
    assert et.estimate_next(TOU, readings, SH, local(12), timedelta(seconds=60)) >= 0
