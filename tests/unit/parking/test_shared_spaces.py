"""Shared spaces (docs/identities.md#shared-spaces): the guest's fee split around the lent window,
the guest's pass, and the owner's cars while a window is lent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain import shared_spaces as sharing
from chalicelib.parking.domain import tariffs
from chalicelib.parking.domain.identities import CardSnap, CardType, Identity, Window

ZONE = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)  # 08:00 in the lot
HOURLY = tariffs.parse(
    {"kind": "duration", "unit_minutes": 60, "unit_fen": 300, "free_minutes": 15, "cap_per_cycle_fen": 3000}
)
TARIFFS = st.sampled_from(
    [
        HOURLY,
        tariffs.parse({"kind": "per_visit", "amount_fen": 1000, "free_minutes": 30}),
        tariffs.parse({"kind": "duration", "unit_minutes": 30, "unit_fen": 150, "cycle": "calendar_day"}),
    ]
)
MINUTES = st.integers(min_value=0, max_value=4 * 24 * 60)


def fee(tariff: tariffs.Tariff, entered: datetime) -> Callable[[datetime], int]:
    return lambda t: tariffs.price(tariff, entered, t, ZONE).total_fen


@settings(max_examples=150, deadline=None)
@given(TARIFFS, MINUTES, MINUTES, MINUTES, st.integers(min_value=1, max_value=3 * 24 * 60))
def test_the_parts_add_up_and_never_exceed_what_a_temporary_car_pays(
    tariff: tariffs.Tariff, entry: int, stay: int, start: int, length: int
) -> None:
    entered = T0 + timedelta(minutes=entry)
    until = entered + timedelta(minutes=stay)
    starts = T0 + timedelta(minutes=start)
    ends = starts + timedelta(minutes=length)
    price_to = fee(tariff, entered)
    parts = sharing.split(entered, until, starts, ends, price_to)
    assert parts.before_fen >= 0 and parts.after_fen >= 0
    assert parts.total_fen == parts.before_fen + parts.after_fen
    assert parts.total_fen <= price_to(until)
    if starts <= entered and until <= ends:  # the whole stay inside the window: free
        assert parts.total_fen == 0
    if until <= starts:  # left before the window: the lot's tariff, all the lot's
        assert parts == sharing.Split(price_to(until), 0)
    if until <= ends:
        assert parts.after_fen == 0
    # the breakdown shows the parts and they add up to the fee
    priced = sharing.priced(
        {"starts": starts.isoformat(), "ends": ends.isoformat(), "label": "x", "host_plate": "粤B1"},
        entered,
        until,
        lambda t: tariffs.price(tariff, entered, t, ZONE),
    )
    lines = priced.breakdown()
    assert [line["kind"] for line in lines] == ["shared_before", "shared_window", "shared_after"]
    assert sum(line["amount_fen"] for line in lines) == priced.total_fen == parts.total_fen


def test_before_and_after_with_an_hourly_tariff() -> None:
    """07:00 in, window 08:00–18:00, out 19:30: an hour before (the lot's), the marginal fee of
    the 90 minutes after (the owner's)."""
    entered, starts = T0 - timedelta(hours=1), T0
    ends, until = T0 + timedelta(hours=10), T0 + timedelta(hours=11, minutes=30)
    price_to = fee(HOURLY, entered)
    parts = sharing.split(entered, until, starts, ends, price_to)
    assert parts.before_fen == 300
    assert parts.after_fen == price_to(until) - price_to(ends) == 3000 - 3000  # capped in the cycle
    cheap = tariffs.parse({"kind": "duration", "unit_minutes": 60, "unit_fen": 300})
    parts = sharing.split(entered, until, starts, ends, fee(cheap, entered))
    assert (parts.before_fen, parts.after_fen) == (300, 600)


def test_the_owner_part_is_never_more_than_the_fee_after_discounts() -> None:
    w = {"starts": T0.isoformat(), "ends": (T0 + timedelta(hours=1)).isoformat()}
    cheap = tariffs.parse({"kind": "duration", "unit_minutes": 60, "unit_fen": 300})
    entered = T0 - timedelta(hours=1)
    priced = sharing.priced(
        w, entered, T0 + timedelta(hours=3), lambda t: tariffs.price(cheap, entered, t, ZONE)
    )
    assert (priced.before_fen, priced.after_fen, priced.total_fen) == (300, 600, 900)
    assert sharing.owner_part(priced, 0) == 600
    assert sharing.owner_part(priced, 500) == 400  # discounts come off the lot's part first
    assert sharing.owner_part(priced, 2000) == 0
    assert sharing.owner_part(tariffs.price(cheap, entered, T0, ZONE), 0) == 0  # not a guest


def test_at_most_as_many_windows_at_once_as_spaces() -> None:
    h = timedelta(hours=1)
    lent = [(T0, T0 + 4 * h), (T0 + 2 * h, T0 + 6 * h)]
    assert sharing.most_at_once(lent, T0 + 5 * h, T0 + 7 * h) == 2
    assert sharing.most_at_once(lent, T0 + 2 * h, T0 + 3 * h) == 3
    assert sharing.most_at_once(lent, T0 + 6 * h, T0 + 8 * h) == 1  # touching is not overlapping
    assert sharing.window_problem(T0, T0 + 32 * 24 * h, T0 - h) is not None
    assert sharing.window_problem(T0, T0 + h, T0) is not None  # not in the future
    assert sharing.window_problem(T0, T0 + h, T0 - h) is None
    assert sharing.label(T0, T0 + 10 * h, ZONE) == "12-03 08:00–18:00"


TYPES = {"monthly": CardType("monthly", "月卡")}


def _card(plates: tuple[str, ...], spaces: int, lent: tuple[sharing.Lent, ...]) -> CardSnap:
    return CardSnap("c1", "monthly", rules.BY_TIME, None, None, spaces, plates, lent)


def test_the_owners_car_during_a_lent_window() -> None:
    window = sharing.Lent("sh1", T0, T0 + timedelta(hours=10), "粤A00001", "12-03 08:00–18:00")
    one = Identity(card=_card(("粤B12345",), 1, (window,)))
    inside = rules.resolve_entry("粤B12345", "entry-1", T0 + timedelta(hours=1), rules.Options(), one, TYPES)
    assert inside.kind == "temporary" and not inside.needs_card
    assert "车位共享中 (12-03 08:00–18:00 访客 粤A00001)" in inside.remark
    before = rules.resolve_entry(
        "粤B12345", "entry-1", T0 - timedelta(minutes=1), rules.Options(), one, TYPES
    )
    assert before.kind == "card" and before.free
    # a two-space card of two plates counts its cars while one space is lent
    two = Identity(card=_card(("粤B1", "粤B2"), 2, (window,)))
    asked = rules.resolve_entry("粤B1", "entry-1", T0, rules.Options(), two, TYPES)
    assert asked.needs_card
    full = rules.CardState(3, {"粤B2": {"visit_id": "v", "entered_at": "2026-12-03T00:10:00Z"}}, 0)
    third = rules.resolve_entry("粤B1", "entry-1", T0, rules.Options(), two, TYPES, full)
    assert (
        third.kind == "temporary"
        and "多位多车车位已满 (1位)" in third.remark
        and "车位共享中" in third.remark
    )


def _pass(used: bool = False) -> Window:
    extra = {"card_id": "c1", "host_plate": "粤B12345", "label": "12-03 08:00–18:00"}
    return Window("sh1", "shared", T0, T0 + timedelta(hours=10), "", True, used, extra)


def test_the_guest_pass_admits_from_a_day_before_until_the_end_once() -> None:
    guest = Identity(windows=(_pass(),))
    for at, kind in (
        (T0 - sharing.EARLY - timedelta(minutes=1), "temporary"),
        (T0 - sharing.EARLY, "shared"),
        (T0 + timedelta(hours=9, minutes=59), "shared"),
        (T0 + timedelta(hours=10), "temporary"),
    ):
        entry = rules.resolve_entry("粤A00001", "entry-1", at, rules.Options(), guest, TYPES)
        assert entry.kind == kind, at
    entry = rules.resolve_entry("粤A00001", "entry-1", T0, rules.Options(), guest, TYPES)
    assert entry.remark == "共享车位入场 (车主 粤B12345 12-03 08:00–18:00)"
    assert entry.pass_id == "sh1" and not entry.free
    assert entry.to_visit()["shared"]["starts"] == "2026-12-03T00:00:00Z"
    used = Identity(windows=(_pass(used=True),))
    assert rules.resolve_entry("粤A00001", "entry-1", T0, rules.Options(), used, TYPES).kind == "temporary"


def test_the_owners_part_moves_from_revenue_and_is_never_paid_out_beyond_it() -> None:
    from chalicelib.ledger.domain import invariants, postings

    share = postings.space_owner_share(
        "v1", card_id="c1", share_id="sh1", lot_id="l1", operator_id="op", amount_fen=500, at=T0
    )
    assert share is not None and share.amount_on("space_owner:c1") == -500
    assert share.amount_on("revenue:op:parking") == 500
    closed = postings.visit_closed(
        "v1", lot_id="l1", operator_id="op", total_fen=1000, discount_fen=0, paid_fen=0, at=T0
    )
    assert closed is not None
    assert invariants.check([closed, share]) == []
    payout = postings.posting(
        "payout",
        "payout",
        T0,
        site="lot:l1",
        subject="card:c1",
        operator_id="op",
        pairs=[("space_owner:c1", 600), ("provider_clearing:bank", -600)],
    )
    assert payout is not None
    assert [b.rule for b in invariants.check([closed, share, payout])] == ["space_owner_overpaid"]
