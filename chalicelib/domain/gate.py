"""What a gate does with a car: pure decisions, no I/O (domain.md §2.1, §2.2).

Identities (cards, lists, visitors) come with a later change; today every car is temporary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from chalicelib.domain.money import format_yuan
from chalicelib.domain.tariffs import Price


@dataclass(frozen=True)
class EntryDecision:
    open_gate: bool
    remark: str
    display: tuple[str, ...]
    previous_becomes_abnormal: bool


def decide_entry(plate: str, already_inside: bool) -> EntryDecision:
    """A temporary car enters; a plate already inside turns its earlier visit abnormal."""
    remark = "临时车入场"
    if already_inside:
        remark = "临时车入场; 该车牌已在场, 前一条在场记录转为异常进场"
    return EntryDecision(
        open_gate=True,
        remark=remark,
        display=(plate, "欢迎光临"),
        previous_becomes_abnormal=already_inside,
    )


@dataclass(frozen=True)
class ExitDecision:
    open_gate: bool
    fee: Price
    due_fen: int
    display: tuple[str, ...]


def fee_until(
    now: datetime, paid_at: datetime | None, priced_until: datetime | None, grace: timedelta
) -> datetime:
    """The instant a stay is priced to: the last paid quote's time while inside the grace window
    after that payment, otherwise now (so a late exit owes the difference)."""
    if paid_at is not None and priced_until is not None and now <= paid_at + grace:
        return min(priced_until, now)
    return now


def decide_exit(plate: str, fee: Price, paid_fen: int, discount_fen: int) -> ExitDecision:
    """Open when nothing is due, else show the amount and keep the barrier down."""
    due = max(0, fee.total_fen - paid_fen - discount_fen)
    if due == 0:
        return ExitDecision(True, fee, 0, (plate, "一路顺风"))
    return ExitDecision(False, fee, due, (plate, f"请缴费 {format_yuan(due)}元"))
