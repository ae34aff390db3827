"""What coupons offer the other contexts. Parking's quote and exit ask for a plate's usable
coupons and the best choice (or the named ones), and use the chosen coupons exactly once inside
the transaction of the payment or the exit that takes them; payments makes a bought batch
available inside the transaction that books its payment."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from chalicelib.coupons.bought import PaidBatch, batch_paid
from chalicelib.coupons.domain.rules import Choice, CouponRuleError, Held, Stay
from chalicelib.coupons.domain.rules import best as _best
from chalicelib.coupons.domain.rules import named as _named
from chalicelib.coupons.holdings import by_ids, usable, use

__all__ = [
    "Choice",
    "CouponRuleError",
    "Held",
    "PaidBatch",
    "Stay",
    "batch_paid",
    "by_ids",
    "choose",
    "usable",
    "use",
]


def choose(
    held: Sequence[Held],
    *,
    fee_fen: int,
    due_fen: int,
    entered_at: datetime,
    until: datetime,
    price_to: Callable[[datetime], int],
    now: datetime,
    wanted: Sequence[str] | None = None,
) -> dict[str, Any] | None:
    """The discount line of the coupons used on this stay: the named ones (`wanted`), else the
    best usable option; None when nothing saves."""
    stay = Stay(fee_fen, due_fen, entered_at, until, price_to)
    choice = _named(held, wanted, stay, now) if wanted else _best(held, stay, now)
    if choice is None:
        return None
    entry = choice.entry()
    entry["merchant_by_coupon"] = {c.coupon_id: c.merchant_id for c in choice.coupons}
    entry["prepaid_coupons"] = [c.coupon_id for c in choice.coupons if c.prepaid]
    return entry
