"""Coupon rules (domain.md §2.5): the best choice never costs the driver more than no coupon or
any single usable coupon or stack; only identical coupons stack, at most 3; a time coupon's
effect is the fee engine pricing the shortened stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.coupons.domain import rules
from chalicelib.coupons.domain.rules import CouponRuleError, Face, Held, Stay
from chalicelib.parking.domain import tariffs

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
DURATION = tariffs.parse(
    {
        "kind": "duration",
        "free_minutes": 15,
        "first_block_minutes": 60,
        "first_block_fen": 500,
        "unit_minutes": 30,
        "unit_fen": 200,
        "cap_per_cycle_fen": 4000,
    }
)


def stay_of(minutes: int, paid: int = 0) -> Stay:
    until = T0 + timedelta(minutes=minutes)
    fee = tariffs.price(DURATION, T0, until, ZONE).total_fen
    return Stay(
        fee, max(0, fee - paid), T0, until, lambda at: tariffs.price(DURATION, T0, at, ZONE).total_fen
    )


faces = st.one_of(
    st.builds(Face, st.just("amount"), st.integers(1, 5000)),
    st.builds(Face, st.just("time"), st.integers(1, 600)),
    st.builds(Face, st.just("percent"), st.integers(1, 100)),
    st.builds(Face, st.just("release"), st.just(0), st.one_of(st.none(), st.integers(1, 5000))),
)


@st.composite
def holdings(draw: st.DrawFn) -> list[Held]:
    kinds = draw(st.lists(faces, min_size=0, max_size=4))
    out: list[Held] = []
    for i, face in enumerate(kinds):
        for j in range(draw(st.integers(1, 4))):
            out.append(Held(f"c-{i}-{j}", "m-1", face, T0 + timedelta(days=1, minutes=j)))
    return out


@settings(max_examples=150, deadline=None)
@given(held=holdings(), minutes=st.integers(1, 3000), paid=st.integers(0, 3000))
def test_the_best_choice_never_costs_more_than_no_coupon_or_any_option(
    held: list[Held], minutes: int, paid: int
) -> None:
    stay = stay_of(minutes, paid)
    choice = rules.best(held, stay, T0)
    saved = choice.amount_fen if choice is not None else 0
    assert 0 <= saved <= stay.due_fen
    for option in rules.options(held, T0):
        assert saved >= rules.stack_discount(option[0].face, len(option), stay)
    if choice is not None:
        assert len({c.face for c in choice.coupons}) == 1 and 1 <= len(choice.coupons) <= 3
        assert sum(share for _, share in choice.shares()) == choice.amount_fen
    else:
        assert all(rules.stack_discount(o[0].face, len(o), stay) == 0 for o in rules.options(held, T0))


@settings(max_examples=100, deadline=None)
@given(minutes=st.integers(1, 4000), off=st.integers(1, 600), count=st.integers(1, 3))
def test_a_time_coupon_takes_off_exactly_what_pricing_the_shortened_stay_saves(
    minutes: int, off: int, count: int
) -> None:
    stay = stay_of(minutes)
    until = T0 + timedelta(minutes=minutes)
    shorter = max(T0, until - timedelta(minutes=off * count))
    expected = (
        tariffs.price(DURATION, T0, until, ZONE).total_fen
        - tariffs.price(DURATION, T0, shorter, ZONE).total_fen
    )
    assert rules.stack_discount(Face("time", off), count, stay) == expected


def test_two_hours_off_a_three_hour_stay_leaves_the_first_hour_to_pay() -> None:
    stay = stay_of(180)  # 500 + 4 × 200 = 1300
    assert stay.fee_fen == 1300
    assert rules.stack_discount(Face("time", 120), 1, stay) == 800


def test_only_identical_coupons_stack_and_at_most_three() -> None:
    stay = stay_of(600)  # capped at 4000
    five = [Held(f"a{i}", "m-1", Face("amount", 500), T0 + timedelta(hours=i + 1)) for i in range(5)]
    other = Held("b", "m-1", Face("amount", 600), T0 + timedelta(hours=1))
    choice = rules.best([*five, other], stay, T0)
    assert choice is not None and choice.amount_fen == 1500
    assert [c.coupon_id for c in choice.coupons] == ["a0", "a1", "a2"]  # the first to expire
    with pytest.raises(CouponRuleError, match="do not stack"):
        rules.named([*five, other], ["a0", "b"], stay, T0)
    with pytest.raises(CouponRuleError, match="at most 3"):
        rules.named(five, ["a0", "a1", "a2", "a3"], stay, T0)
    named = rules.named(five, ["a3"], stay, T0)
    assert named is not None and named.amount_fen == 500


def test_no_coupon_is_used_when_none_saves_and_expired_ones_are_never_usable() -> None:
    free = stay_of(10)  # inside the free minutes
    held = [Held("a", "m-1", Face("amount", 500), T0 + timedelta(hours=1))]
    assert rules.best(held, free, T0) is None
    expired = [Held("a", "m-1", Face("amount", 500), T0 - timedelta(seconds=1))]
    assert rules.best(expired, stay_of(120), T0) is None


def test_fewest_coupons_on_a_tie_and_a_release_covers_up_to_its_cap() -> None:
    stay = stay_of(90)  # 500 + 200 = 700
    held = [Held(f"a{i}", "m-1", Face("amount", 800), T0 + timedelta(hours=1)) for i in range(3)]
    choice = rules.best(held, stay, T0)
    assert choice is not None and len(choice.coupons) == 1 and choice.amount_fen == 700
    assert rules.stack_discount(Face("release", 0, 300), 1, stay) == 300
    assert rules.stack_discount(Face("release", 0), 1, stay) == 700
    assert rules.stack_discount(Face("percent", 10), 1, stay) == 70


def test_definitions_and_periods() -> None:
    for bad in (
        Face("amount", 0),
        Face("percent", 101),
        Face("release", 5),
        Face("time", 10, 5),
        Face("x", 1),
    ):
        with pytest.raises(CouponRuleError):
            rules.check_face(bad)
    day = datetime(2026, 12, 31, tzinfo=UTC).date()
    assert rules.period_key("day", day) == "2026-12-31"
    assert rules.period_key("week", day) == "2026-W53"
    assert rules.period_key("month", day) == "2026-12"
    assert rules.release_hold(None, 900) == 900 and rules.release_hold(500, 900) == 500
