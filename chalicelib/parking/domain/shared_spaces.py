"""Shared spaces (共享车位, docs/identities.md#shared-spaces): pure rules, no I/O, `now` passed in.

A card owner lends a window of their space to a guest plate. The guest's pass admits the car
from `EARLY` before the window's start until its end, once. At the exit the stay is split: the
part before the window's start is priced by the lot's tariff and is the lot's, the window itself
is free, the part after its end is the marginal fee `price(entry, exit) − price(entry,
max(end, entry))` and is the space owner's. While a window is lent the card has one space fewer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from chalicelib.parking.domain.tariffs import Price
from chalicelib.shared.timeutil import iso, parse_iso

if TYPE_CHECKING:
    from chalicelib.parking.domain.identities import Window

SHARED = "shared"  # the guest pass's kind, and the visit's identity kind
EARLY = timedelta(hours=24)  # a guest may come this long before the window starts
MAX_DAYS = 31


@dataclass(frozen=True)
class Lent:
    """A window the card lends (kept on the card and on its plates' snapshots)."""

    share_id: str
    starts: datetime
    ends: datetime
    guest: str
    label: str

    def active(self, now: datetime) -> bool:
        return self.starts <= now < self.ends


def label(starts: datetime, ends: datetime, zone: tzinfo) -> str:
    """The window as the lot's people read it (local time): `12-03 08:00–18:00`, or with both
    dates when it spans days."""
    a, b = starts.astimezone(zone), ends.astimezone(zone)
    if a.date() == b.date():
        return f"{a:%m-%d %H:%M}–{b:%H:%M}"
    return f"{a:%m-%d %H:%M}–{b:%m-%d %H:%M}"


def window_problem(starts: datetime, ends: datetime, now: datetime) -> str | None:
    """Why a window cannot be lent (None: it can): it must be in the future, at most 31 days."""
    if ends <= starts:
        return "ends must be after starts"
    if starts <= now:
        return "a shared window starts in the future"
    if ends - starts > timedelta(days=MAX_DAYS):
        return f"a shared window is at most {MAX_DAYS} days"
    return None


def card_covers(
    valid_from: datetime | None, valid_until: datetime | None, starts: datetime, ends: datetime
) -> bool:
    """The card is valid over the whole window."""
    return (valid_from is None or valid_from <= starts) and (valid_until is None or ends <= valid_until)


def most_at_once(windows: Iterable[tuple[datetime, datetime]], starts: datetime, ends: datetime) -> int:
    """How many of `windows` (and the new one) are lent at once at the busiest instant of the new
    window [starts, ends)."""
    inside = [(max(a, starts), min(b, ends)) for a, b in windows if a < ends and starts < b]
    events = sorted([(a, 1) for a, _ in inside] + [(b, -1) for _, b in inside], key=lambda e: (e[0], e[1]))
    busiest = count = 0
    for _, step in events:
        count += step
        busiest = max(busiest, count)
    return busiest + 1


def lent_now(lent: Iterable[Lent], now: datetime) -> list[Lent]:
    return [w for w in lent if w.active(now)]


def spaces_left(spaces: int, lent: Iterable[Lent], now: datetime) -> tuple[int, list[Lent]]:
    """The card's spaces while windows are lent now (one fewer per window), and those windows."""
    active = lent_now(lent, now)
    return max(0, spaces - len(active)), active


def lent_note(active: Iterable[Lent]) -> str:
    shown = ", ".join(f"{w.label} 访客 {w.guest}" for w in active)
    return f"车位共享中 ({shown})"


def guest_pass(windows: Iterable[Window], now: datetime) -> Window | None:
    """The guest's unused shared pass that admits the car now (from EARLY before the start until
    the end of its window)."""
    for w in windows:
        if w.kind != SHARED or w.used or w.starts is None or w.ends is None:
            continue
        if w.starts - EARLY <= now < w.ends:
            return w
    return None


def guest_remark(w: Window) -> str:
    return f"共享车位入场 (车主 {w.extra.get('host_plate', '')} {w.extra.get('label', '')})"


def kept(w: Window) -> dict[str, Any]:
    """What the guest's visit keeps of the window (its exit prices by it)."""
    return {
        "share_id": w.entry_id,
        "card_id": w.extra.get("card_id"),
        "host_plate": w.extra.get("host_plate"),
        "starts": iso(w.starts) if w.starts else None,
        "ends": iso(w.ends) if w.ends else None,
        "label": w.extra.get("label", ""),
    }


# --- pricing at the exit ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """A guest's stay: the lot's part before the window, the owner's part after it (fen)."""

    before_fen: int
    after_fen: int

    @property
    def total_fen(self) -> int:
        return self.before_fen + self.after_fen


def split(
    entered_at: datetime,
    until: datetime,
    starts: datetime,
    ends: datetime,
    price_to: Callable[[datetime], int],
) -> Split:
    """`price_to(t)`: the lot's tariff for the stay from entry to t. Before: the stay up to the
    window's start, priced as a stay of its own from entry (the lot's). Inside: free. After: the
    marginal fee of the time beyond the end, `price_to(until) − price_to(max(end, entry))`, never
    below zero (the owner's)."""
    before = price_to(min(until, starts)) if entered_at < starts else 0
    after = max(0, price_to(until) - price_to(max(ends, entered_at))) if until > ends else 0
    return Split(max(0, before), after)


@dataclass(frozen=True)
class SharedPrice(Price):
    """A guest's fee: the split's parts as lines of the breakdown (they add up to `total_fen`).
    No billing cycles are kept (a guest's visit leaves no no-repeat carry)."""

    before_fen: int = 0
    after_fen: int = 0
    window: Mapping[str, Any] = field(default_factory=dict)
    entered_at: datetime | None = None
    until: datetime | None = None
    starts: datetime | None = None
    ends: datetime | None = None

    def breakdown(self) -> list[dict[str, Any]]:
        assert self.entered_at and self.until and self.starts and self.ends
        entered, until, starts, ends = self.entered_at, self.until, self.starts, self.ends
        w = self.window
        return [
            {
                "kind": "shared_before",
                "label": "共享时段前停车, 按车场收费标准 (归车场)",
                "start": iso(entered),
                "end": iso(max(entered, min(until, starts))),
                "payee": "lot",
                "amount_fen": self.before_fen,
            },
            {
                "kind": "shared_window",
                "label": f"共享时段 {w.get('label', '')} (车主 {w.get('host_plate', '')}), 免费",
                "start": iso(starts),
                "end": iso(ends),
                "payee": None,
                "amount_fen": 0,
            },
            {
                "kind": "shared_after",
                "label": "共享时段后停车, 超出部分 (归车主)",
                "start": iso(min(until, max(entered, ends))),
                "end": iso(until),
                "payee": "space_owner",
                "amount_fen": self.after_fen,
            },
        ]


def priced(
    window: Mapping[str, Any], entered_at: datetime, until: datetime, plain: Callable[[datetime], Price]
) -> SharedPrice:
    """The guest's fee for the stay to `until` (`plain(t)`: the lot's price of the stay to t)."""
    starts, ends = parse_iso(str(window["starts"])), parse_iso(str(window["ends"]))
    parts = split(entered_at, until, starts, ends, lambda t: plain(t).total_fen)
    return SharedPrice(
        parts.total_fen,
        parts.total_fen == 0,
        0,
        plain(until).stay_minutes,
        (),
        before_fen=parts.before_fen,
        after_fen=parts.after_fen,
        window=dict(window),
        entered_at=entered_at,
        until=until,
        starts=starts,
        ends=ends,
    )


def owner_part(fee: Price, discount_fen: int) -> int:
    """What the space owner is owed when the visit closes: the after part, never more than the fee
    after discounts (discounts come off the lot's part first)."""
    if not isinstance(fee, SharedPrice):
        return 0
    return max(0, min(fee.after_fen, fee.total_fen - max(0, discount_fen)))


# --- what the items hold ---------------------------------------------------------------------------


def lent_of(raw: Any) -> tuple[Lent, ...]:
    """The card snapshot's lent windows (a list of dicts) as `Lent`s."""
    out = []
    for w in raw or ():
        out.append(
            Lent(
                str(w["share_id"]),
                parse_iso(str(w["starts"])),
                parse_iso(str(w["ends"])),
                str(w.get("guest") or ""),
                str(w.get("label") or ""),
            )
        )
    return tuple(out)


def lent_dict(w: Lent) -> dict[str, Any]:
    return {
        "share_id": w.share_id,
        "starts": iso(w.starts),
        "ends": iso(w.ends),
        "guest": w.guest,
        "label": w.label,
    }


PASS_EXTRA = ("card_id", "host_plate", "label")


def pass_extra(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a shared pass keeps beyond the window (other passes keep nothing)."""
    if data.get("kind") != SHARED:
        return {}
    return {k: data.get(k) for k in PASS_EXTRA}
