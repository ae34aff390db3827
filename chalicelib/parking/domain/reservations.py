"""Paid reservations (付费预约, docs/identities.md): pure rules, `now` passed in.

A lot offers them with a fixed fee and a prepaid parking amount. The fee is the lot's once paid
(kept on a no-show, refunded on a cancel before the window starts); the prepaid pays the
reserved visit's own fee first, and what it does not use is refunded to the payer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# A paid reservation's states: booked and waiting for its payment → paid (its pass written) →
# used (its visit closed) | cancelled (by the driver before the window) | no_show (the window
# ended without an entry). A payment that comes for a reservation no longer waiting for it
# (cancelled, its window over, paid already) is owed back whole.
AWAITING_PAYMENT, PAID, USED, CANCELLED, NO_SHOW = "awaiting_payment", "paid", "used", "cancelled", "no_show"
MAX_FEE_FEN = 1_000_000  # 10 000 yuan
MAX_PREPAID_FEN = 1_000_000


@dataclass(frozen=True)
class Offer:
    """What a lot charges for a paid reservation (both 0: not offered)."""

    fee_fen: int = 0
    prepaid_fen: int = 0

    @property
    def offered(self) -> bool:
        return self.fee_fen > 0 or self.prepaid_fen > 0

    @property
    def total_fen(self) -> int:
        return self.fee_fen + self.prepaid_fen

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Offer:
        data = data or {}
        return cls(int(data.get("fee_fen") or 0), int(data.get("prepaid_fen") or 0))

    def to_dict(self) -> dict[str, int]:
        return {"fee_fen": self.fee_fen, "prepaid_fen": self.prepaid_fen}


def check_offer(fee_fen: int, prepaid_fen: int) -> Offer:
    if not (0 <= fee_fen <= MAX_FEE_FEN and 0 <= prepaid_fen <= MAX_PREPAID_FEN):
        raise ValueError(f"fee_fen and prepaid_fen are 0 to {MAX_FEE_FEN} fen")
    return Offer(fee_fen, prepaid_fen)


def prepaid_split(prepaid_fen: int, net_fee_fen: int) -> tuple[int, int]:
    """The visit closes with its own fee after discounts `net_fee_fen`: (used, refunded). The
    prepaid pays the visit's own fee first and never more than it (arrears of earlier unpaid
    exits are the driver's to pay); the rest goes back to the payer. The parts add up."""
    prepaid = max(0, prepaid_fen)
    used = min(prepaid, max(0, net_fee_fen))
    return used, prepaid - used


def cancellable(status: str, starts: datetime, now: datetime) -> bool:
    """The driver cancels before the window starts (a paid one gets fee and prepaid back)."""
    return status in (AWAITING_PAYMENT, PAID) and now < starts


def no_show(status: str, ends: datetime, pass_used: bool, now: datetime) -> bool:
    """The window ended and the pass was never used: the prepaid goes back, the fee is kept."""
    return status == PAID and now >= ends and not pass_used
