"""The hourly tariff: free minutes, started units, caps per rolling 24 h cycle, integer fen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.domain.tariff import HourlyTariff, TariffError

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
DEMO = HourlyTariff(free_minutes=15, unit_minutes=60, unit_price_fen=300, cap_per_cycle_fen=2000)

tariffs = st.builds(
    HourlyTariff,
    free_minutes=st.integers(0, 120),
    unit_minutes=st.integers(1, 240),
    unit_price_fen=st.integers(0, 10_000),
    cap_per_cycle_fen=st.one_of(st.none(), st.integers(0, 50_000)),
)
stays = st.integers(0, 400 * 24 * 3600)
entries = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


def fee(minutes: float, tariff: HourlyTariff = DEMO) -> int:
    return tariff.price(T0, T0 + timedelta(minutes=minutes)).total_fen


def test_examples_an_operator_would_check() -> None:
    assert fee(15) == 0  # inside the free minutes
    assert fee(16) == 300  # then charged from the start: one started hour
    assert fee(60) == 300
    assert fee(61) == 600
    assert fee(23 * 60) == 2000  # capped for the day
    assert fee(24 * 60 + 1) == 2000 + 300  # a new cycle starts afresh
    assert fee(3 * 24 * 60) == 3 * 2000


def test_breakdown_names_each_cycle_and_the_cap() -> None:
    result = DEMO.price(T0, T0 + timedelta(hours=30))
    assert [line.amount_fen for line in result.lines] == [2000, 1800]
    assert result.lines[0].capped and not result.lines[1].capped
    assert result.breakdown()[1]["cycle_start"] == "2026-11-23T01:00:00Z"


@pytest.mark.parametrize(
    "bad",
    [
        {"free_minutes": -1, "unit_minutes": 60, "unit_price_fen": 1},
        {"free_minutes": 0, "unit_minutes": 0, "unit_price_fen": 1},
        {"free_minutes": 0, "unit_minutes": 60, "unit_price_fen": -5},
        {"free_minutes": 0, "unit_minutes": 60},
    ],
)
def test_invalid_tariffs_are_refused(bad: dict) -> None:
    with pytest.raises(TariffError):
        HourlyTariff.from_dict(bad)


def test_naive_times_are_refused() -> None:
    with pytest.raises(TariffError):
        DEMO.price(datetime(2026, 1, 1), datetime(2026, 1, 2))


@given(tariffs, entries, stays)
def test_a_stay_inside_the_free_minutes_costs_nothing(
    tariff: HourlyTariff, entered: datetime, seconds: int
) -> None:
    seconds = seconds % (tariff.free_minutes * 60 + 1)
    assert tariff.price(entered, entered + timedelta(seconds=seconds)).total_fen == 0


@given(tariffs, entries, stays)
def test_parts_add_up_and_no_cycle_exceeds_its_cap(
    tariff: HourlyTariff, entered: datetime, seconds: int
) -> None:
    result = tariff.price(entered, entered + timedelta(seconds=seconds))
    assert isinstance(result.total_fen, int)
    assert sum(line.amount_fen for line in result.lines) == result.total_fen
    for line in result.lines:
        assert isinstance(line.amount_fen, int) and line.amount_fen >= 0
        if tariff.cap_per_cycle_fen is not None:
            assert line.amount_fen <= tariff.cap_per_cycle_fen


@given(tariffs, entries, stays, st.integers(0, 5 * 24 * 3600))
def test_a_longer_stay_never_costs_less(
    tariff: HourlyTariff, entered: datetime, seconds: int, more: int
) -> None:
    shorter = tariff.price(entered, entered + timedelta(seconds=seconds)).total_fen
    longer = tariff.price(entered, entered + timedelta(seconds=seconds + more)).total_fen
    assert longer >= shorter


@given(tariffs, entries, stays, st.integers(-12 * 60, 14 * 60))
def test_the_price_does_not_depend_on_the_zone_the_instants_are_written_in(
    tariff: HourlyTariff, entered: datetime, seconds: int, offset_minutes: int
) -> None:
    zone = timezone(timedelta(minutes=offset_minutes))
    until = entered + timedelta(seconds=seconds)
    assert tariff.price(entered, until) == tariff.price(entered.astimezone(zone), until.astimezone(zone))
