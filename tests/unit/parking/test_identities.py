"""The pure identity rules (docs/identities.md): precedence, windows that revert by themselves,
groups, lanes, arrears."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking.domain import gate
from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain.identities import CardSnap, CardState, CardType, Identity, Options, Window
from chalicelib.parking.domain.tariffs import Price

T0 = datetime(2026, 12, 1, 8, tzinfo=UTC)
TYPES = {"m": CardType("m", "月卡", ("entry-1",)), "free": CardType("free", "VIP", None)}


def card(
    type_id: str = "m", plates: tuple[str, ...] = ("粤B1",), spaces: int | None = None, kind: str = "time"
) -> CardSnap:
    return CardSnap("c1", type_id, kind, None, None, spaces or len(plates), plates)


def resolve(
    plate: str, identity: Identity, lane: str = "entry-1", options: Options = Options(), **kw: object
) -> rules.Entry:
    return rules.resolve_entry(plate, lane, kw.pop("now", T0), options, identity, TYPES, **kw)  # type: ignore[arg-type]


@given(st.integers(min_value=-600, max_value=600))
def test_a_blacklist_window_refuses_exactly_while_it_is_active(offset: int) -> None:
    now = T0 + timedelta(seconds=offset)
    black = Window("b", "black", T0 - timedelta(minutes=5), T0 + timedelta(minutes=5))
    entry = resolve("粤B9", Identity(windows=(black,)), now=now)
    active = T0 - timedelta(minutes=5) <= now < T0 + timedelta(minutes=5)
    assert entry.refused is active
    assert entry.kind == ("blacklist" if active else "temporary")


def test_the_card_wins_over_the_blacklist_and_the_order_is_the_lots() -> None:
    both = Identity(card=card(), windows=(Window("b", "black", None, None),))
    assert resolve("粤B1", both).kind == "card"
    blacklist_first = Options(precedence=("blacklist", "special", "card", "whitelist", "pass", "arrears"))
    assert resolve("粤B1", both, options=blacklist_first).refused


def test_a_lane_without_permission_makes_the_card_holder_temporary_with_the_reason() -> None:
    entry = resolve("粤B1", Identity(card=card()), lane="entry-2")
    assert entry.kind == "temporary" and "月卡无车道 entry-2 权限" in entry.remark and not entry.free


def test_an_expired_card_is_temporary() -> None:
    expired = CardSnap("c1", "m", "time", None, T0, 1, ("粤B1",))
    assert "已过期" in resolve("粤B1", Identity(card=expired)).remark


@pytest.mark.parametrize("plate", ["粤A1234警", "WJ12345", "使123456", "VA12345", "粤B123领"])
def test_special_plates_are_free(plate: str) -> None:
    assert resolve(plate, rules.NOBODY).kind == "special"


def test_a_group_asks_for_its_card_then_counts_its_cars_inside() -> None:
    group = Identity(card=card("free", ("A", "B", "C"), spaces=2))
    assert resolve("C", group).needs_card
    full = CardState(
        3, {"A": {"entered_at": "2026-12-01T07:00:00Z"}, "B": {"entered_at": "2026-12-01T07:30:00Z"}}, 0
    )
    entry = resolve("C", group, state=full)
    assert entry.kind == "temporary" and "A(07:00入场)" in entry.remark and "B(07:30入场)" in entry.remark
    assert resolve("C", group, state=CardState(3, {"A": {}}, 0)).group
    # a car re-entering while counted inside keeps its own space
    assert resolve("A", group, state=full).kind == "card"
    lenient = Options(full_group_blocks_vip=False)
    assert resolve("C", group, options=lenient, state=full).kind == "card"


def test_a_count_card_with_no_count_left_is_temporary() -> None:
    counted = Identity(card=card("free", kind="count"))
    assert resolve("粤B1", counted, state=CardState(1, {}, 0)).kind == "temporary"
    assert resolve("粤B1", counted, state=CardState(1, {}, 2)).uses_count


def test_a_single_use_pass_is_used_once() -> None:
    visitor = Window("p", "visitor", None, None, single_use=True)
    assert resolve("X", Identity(windows=(visitor,))).pass_id == "p"
    used = Window("p", "visitor", None, None, single_use=True, used=True)
    assert resolve("X", Identity(windows=(used,))).kind == "temporary"


def test_a_locked_car_is_held_and_open_gate_mode_turns_what_is_due_into_arrears() -> None:
    assert rules.exit_rule("X", "exit-1", 500, Options(), Identity(locked=True)).held
    rule = rules.exit_rule("X", "exit-1", 500, Options(open_gate_lanes=("exit-1",)), rules.NOBODY)
    assert rule.owed_fen == 500 and not rule.held
    assert (
        rules.exit_rule("X", "exit-2", 500, Options(open_gate_lanes=("exit-1",)), rules.NOBODY).owed_fen == 0
    )


@given(
    fee=st.integers(min_value=0, max_value=10_000),
    discount=st.integers(min_value=0, max_value=10_000),
    arrears=st.dictionaries(st.sampled_from(["v1", "v2", "v3"]), st.integers(min_value=1, max_value=5_000)),
    paid=st.integers(min_value=0, max_value=30_000),
)
def test_arrears_are_due_with_the_fee_and_settled_only_when_paid_in_full(
    fee: int, discount: int, arrears: dict[str, int], paid: int
) -> None:
    owed = sum(arrears.values())
    net = max(0, fee - discount)
    settled = rules.settled_arrears(arrears, net, paid)
    assert settled in ({}, arrears)
    assert bool(settled) is (owed > 0 and paid >= net + owed)
    decision = gate.decide_exit("X", Price(fee, False, 0, 0), paid, discount, owed)
    assert decision.due_fen == max(0, net + owed - paid)
    assert decision.open_gate is (decision.due_fen == 0)


def test_blacklisting_after_n_unpaid_exits() -> None:
    assert not rules.blacklists_after(5, 0)
    assert not rules.blacklists_after(1, 2) and rules.blacklists_after(2, 2)
