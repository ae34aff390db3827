"""What a gate does with a car: pure decisions, no I/O (domain.md §2.1, §2.2).

Who the car is (cards, lists, passes, ...) is decided in domain.identities.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.parking.domain.reservations import prepaid_split
from chalicelib.parking.domain.tariffs import Carry, Price
from chalicelib.shared.money import format_yuan


@dataclass(frozen=True)
class EntryDecision:
    open_gate: bool
    remark: str
    display: tuple[str, ...]
    previous_becomes_abnormal: bool


@dataclass(frozen=True)
class ExitDecision:
    open_gate: bool
    fee: Price
    due_fen: int
    display: tuple[str, ...]
    prepaid_used_fen: int = 0  # what a paid reservation's prepaid pays of the fee


def fee_until(
    now: datetime, paid_at: datetime | None, priced_until: datetime | None, grace: timedelta
) -> datetime:
    """The instant a stay is priced to: the last paid quote's time while inside the grace window
    after that payment, otherwise now (so a late exit owes the difference). Only a payment that
    arrived while its quote was valid sets `paid_at` (domain.md §2.2); a late one counts for its
    amount and the stay is priced to now."""
    if paid_at is not None and priced_until is not None and now <= paid_at + grace:
        return min(priced_until, now)
    return now


def decide_exit(
    plate: str, fee: Price, paid_fen: int, discount_fen: int, arrears_fen: int = 0, prepaid_fen: int = 0
) -> ExitDecision:
    """Open when nothing is due, else show the amount and keep the barrier down. Arrears of
    earlier unpaid exits are paid with this fee; a paid reservation's prepaid pays the visit's
    own fee first (docs/identities.md)."""
    net = max(0, fee.total_fen - discount_fen)
    used, _ = prepaid_split(prepaid_fen, net)
    due = max(0, net - used + max(0, arrears_fen) - paid_fen)
    if due == 0:
        return ExitDecision(True, fee, 0, (plate, "一路顺风"), used)
    return ExitDecision(False, fee, due, (plate, f"请缴费 {format_yuan(due)}元"), used)


@dataclass(frozen=True)
class ClosedVisit:
    """What an exited visit left for no-repeat charging: the start of its last billing cycle and
    what it owed in that cycle."""

    visit_id: str
    cycle_start: datetime
    cycle_fen: int


def carry(closed: Iterable[ClosedVisit]) -> Carry | None:
    """No-repeat charging (不重复收费): the open cycle of the newest earlier visit and what every
    earlier visit owes in that same cycle, so the cycle's cap holds across visits."""
    visits = list(closed)
    if not visits:
        return None
    newest = max(visits, key=lambda v: v.visit_id)
    owed = sum(v.cycle_fen for v in visits if v.cycle_start == newest.cycle_start)
    return Carry(newest.cycle_start, owed)


def cycle_total(carried: Carry | None, last_cycle: tuple[datetime, int] | None) -> int | None:
    """The running total of the cycle a visit's stay ended in: what earlier visits owed in it
    (when the stay ended in the carried cycle) plus what this stay owed in it."""
    if last_cycle is None:
        return None
    start, fen = last_cycle
    if carried is not None and carried.cycle_start == start:
        return carried.charged_fen + fen
    return fen


def carry_of(
    cycle_start: datetime | None, cycle_total_fen: int | None, last_cycle_fen: int | None
) -> Carry | None:
    """No-repeat carry from the previous visit alone (it keeps the cycle's running total)."""
    if cycle_start is None:
        return None
    total = cycle_total_fen if cycle_total_fen is not None else (last_cycle_fen or 0)
    return Carry(cycle_start, int(total))


@dataclass(frozen=True)
class WaiverGrant:
    """Charging waives parking (充电减免): minutes off the stay and/or an amount off the fee."""

    session_id: str | None
    minutes: int
    fen: int


def waiver_discount(
    grant: WaiverGrant | None,
    fee_fen: int,
    entered_at: datetime,
    until: datetime,
    price_to: Callable[[datetime], int],
) -> dict[str, Any] | None:
    """The discount a charging waiver gives a stay priced `fee_fen` up to `until`: the fee of the
    minutes it removes from the end of the stay (`price_to(instant)` prices the stay up to an
    earlier instant), plus its fixed amount; never more than the fee, never below 0."""
    if grant is None or (grant.minutes <= 0 and grant.fen <= 0):
        return None
    amount = 0
    label = "充电减免"
    if grant.minutes > 0:
        shorter = max(entered_at, until - timedelta(minutes=grant.minutes))
        amount += fee_fen - price_to(shorter)
        label += f" {grant.minutes} 分钟"
    if grant.fen > 0:
        amount += grant.fen
        label += f" {grant.fen} 分"
    return {
        "kind": "charging_waiver",
        "label": label,
        "session_id": grant.session_id,
        "amount_fen": max(0, min(amount, fee_fen)),
    }


@dataclass(frozen=True)
class ReleaseSplit:
    """An abnormal release (异常放行) of a car that owes `owed_fen`: the cash taken counts toward
    it (`applied_fen`), cash beyond it is owed back (`excess_fen`), what is left is waived."""

    owed_fen: int
    applied_fen: int
    excess_fen: int
    waived_fen: int


def release_split(fee_fen: int, paid_fen: int, discount_fen: int, cash_fen: int) -> ReleaseSplit:
    owed = max(0, fee_fen - paid_fen - discount_fen)
    cash = max(0, cash_fen)
    applied = min(cash, owed)
    return ReleaseSplit(owed, applied, cash - applied, owed - applied)
