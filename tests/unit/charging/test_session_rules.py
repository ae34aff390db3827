"""Charge session rules: guarded transitions, start checks, readings that never lower the energy,
the stop rules and settlement."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.charging.domain import sessions as rules

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=UTC)


def test_transitions_follow_the_session_states() -> None:
    assert rules.can_move(rules.STARTING, rules.CHARGING)
    assert rules.can_move(rules.CHARGING, rules.SUSPENDED)
    assert rules.can_move(rules.SUSPENDED, rules.COMPLETED)
    assert not rules.can_move(rules.COMPLETED, rules.CHARGING)
    assert not rules.can_move(rules.STOPPING, rules.CHARGING)
    with pytest.raises(rules.InvalidTransition):
        rules.require_move(rules.COMPLETED, rules.STOPPING)
    assert {
        rules.STARTING,
        rules.CHARGING,
        rules.STOPPING,
        rules.SUSPENDED,
        rules.ABNORMAL,
    } == rules.FORCE_ENDABLE


def _check(**overrides: object) -> rules.Refusal | None:
    args: dict[str, object] = dict(
        charger_online=True,
        connector_status="Preparing",
        connector_session=None,
        account_status="active",
        balance_fen=5000,
        prepay_fen=2000,
        min_balance_fen=100,
    )
    args.update(overrides)
    return rules.check_start(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({}, None),
        ({"account_status": "frozen"}, "account_frozen"),
        ({"charger_online": False}, "charger_offline"),
        ({"connector_session": "s-1"}, "connector_busy"),
        ({"connector_status": "Charging"}, "connector_busy"),
        ({"connector_status": "Faulted"}, "connector_unavailable"),
        ({"connector_status": "Available"}, "not_plugged"),
        ({"prepay_fen": 99}, "prepay_too_low"),
        ({"prepay_fen": 6000}, "balance_too_low"),
    ],
)
def test_a_refused_start_says_why(overrides: dict[str, object], code: str | None) -> None:
    refusal = _check(**overrides)
    assert (refusal.code if refusal else None) == code


readings = st.lists(st.tuples(st.integers(0, 3600), st.integers(0, 100_000)), min_size=1, max_size=30)


@given(readings)
def test_energy_never_goes_down_whatever_the_order_of_readings(samples: list[tuple[int, int]]) -> None:
    merged: list[tuple[datetime, int]] = []
    best = 0
    for seconds, wh in samples:
        merged = rules.merge_reading(merged, T0 + timedelta(seconds=seconds), wh)
        values = [v for _, v in merged]
        assert values == sorted(values)  # monotonic in time
        assert [t for t, _ in merged] == sorted(t for t, _ in merged)
        assert merged[-1][1] >= best  # the latest total never drops
        best = merged[-1][1]
    assert len({t for t, _ in merged}) == len(merged)  # one reading per instant


def test_a_late_lower_reading_does_not_lower_the_energy() -> None:
    merged = rules.merge_reading([], T0, 1000)
    merged = rules.merge_reading(merged, T0 + timedelta(minutes=2), 3000)
    merged = rules.merge_reading(merged, T0 + timedelta(minutes=1), 500)  # late and wrong
    assert merged == [(T0, 1000), (T0 + timedelta(minutes=1), 1000), (T0 + timedelta(minutes=2), 3000)]
    assert rules.energy(merged) == 2000


def test_stop_rules() -> None:
    assert rules.no_energy_yet(T0, T0 + timedelta(seconds=90), 0)
    assert not rules.no_energy_yet(T0, T0 + timedelta(seconds=89), 0)
    assert not rules.no_energy_yet(T0, T0 + timedelta(seconds=200), 1)
    assert rules.balance_runs_out(prepaid_fen=1000, expected_next_cost_fen=901, min_balance_fen=100)
    assert not rules.balance_runs_out(prepaid_fen=1000, expected_next_cost_fen=900, min_balance_fen=100)
    assert rules.clock_ok(T0 + timedelta(minutes=4), T0) and not rules.clock_ok(T0 + timedelta(minutes=6), T0)


@given(st.integers(0, 10**7), st.integers(0, 10**7))
def test_settlement_returns_the_unused_prepaid_amount_and_adds_up(prepaid: int, total: int) -> None:
    result = rules.settle(prepaid, total)
    assert prepaid - result.refund_fen + result.owed_fen == total
    assert result.refund_fen >= 0 and result.owed_fen >= 0


def test_refundable() -> None:
    assert rules.refundable(rules.COMPLETED, 1200, 5000, 3800) == 1200
    assert rules.refundable(rules.COMPLETED, 0, 5000, 5000) == 0
    assert rules.refundable(rules.CHARGING, 1200, 5000, 0) == 0


def test_a_reading_stamped_before_the_start_counts_after_it() -> None:
    start = [(T0, 200_000)]
    early = rules.merge_reading(start, rules.after_start(T0, T0 - timedelta(seconds=1)), 200_300)
    assert rules.energy(early) == 300
    assert rules.after_start(T0, T0 + timedelta(seconds=5)) == T0 + timedelta(seconds=5)
