"""Charger clocks (domain.md §3.3): the tolerance holds both ways, a stamp beyond it is clamped
with the reason kept, and a reading never lands before the start or far after its arrival."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.charging.domain import sessions as rules

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)
seconds = st.integers(min_value=-10 * 365 * 86400, max_value=10 * 365 * 86400)


def test_the_offset_is_measured_within_the_tolerance_both_ways() -> None:
    for skew in (90, -90, 299, -299):
        assert rules.clock_offset(NOW + timedelta(seconds=skew), NOW) == timedelta(seconds=skew)
    for skew in (301, -301, 86400 * 30):
        assert rules.clock_offset(NOW + timedelta(seconds=skew), NOW) == timedelta(0)
    assert rules.clock_offset(None, NOW) == timedelta(0)


@given(stamp=seconds, offset=st.integers(-300, 300), started=st.integers(-7200, 0))
def test_a_reading_lands_between_the_start_and_its_arrival_plus_the_tolerance(
    stamp: int, offset: int, started: int
) -> None:
    start = NOW + timedelta(seconds=started)
    placed = rules.place_reading(NOW + timedelta(seconds=stamp), timedelta(seconds=offset), start, NOW)
    assert start < placed.at <= NOW + rules.CLOCK_SKEW
    beyond = stamp - offset > rules.CLOCK_SKEW.total_seconds()
    assert (placed.note is not None) == beyond


def test_a_clock_90_seconds_behind_reads_on_the_servers_clock() -> None:
    start = NOW
    offset = rules.clock_offset(NOW - timedelta(seconds=90), NOW)
    first = rules.place_reading(NOW + timedelta(seconds=60) - timedelta(seconds=90), offset, start, NOW)
    assert first.at == NOW + timedelta(seconds=60) and first.note is None


def test_an_ebike_past_its_limit_is_stopped_in_every_open_state_that_charges() -> None:
    base = {
        "created_at": NOW - timedelta(days=3),
        "last_activity_at": NOW - timedelta(minutes=2),
        "started_at": NOW - timedelta(days=3),
        "energy_wh": 10,
        "past_auto_stop": True,
        "now": NOW,
    }
    for state in (rules.CHARGING, rules.SUSPENDED):
        assert rules.sweep_action(state, **base) == rules.STOP_AUTO  # type: ignore[arg-type]


def test_a_stop_during_starting_that_never_started_is_abandoned() -> None:
    action = rules.sweep_action(
        rules.STOPPING,
        created_at=NOW - timedelta(minutes=4),
        last_activity_at=NOW - timedelta(minutes=4),
        started_at=None,
        energy_wh=0,
        past_auto_stop=False,
        now=NOW,
    )
    assert action == rules.ABANDON and rules.can_move(rules.STOPPING, rules.ABNORMAL)


def test_requests_in_flight_count_against_what_is_refundable() -> None:
    assert rules.refundable(rules.COMPLETED, 3240, 5000, 1760) == 3240
    assert rules.refundable(rules.COMPLETED, 3240, 5000, 1760, in_flight_fen=2000) == 1240
    assert rules.refundable(rules.COMPLETED, 3240, 5000, 1760, in_flight_fen=4000) == 0
