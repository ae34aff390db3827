"""Reports for merchants and the operator: per local day, coupons given (by merchant staff),
claimed (by drivers' QR scans), used, expired unused, the amount discounted, and the budget left
in the current period; JSON or CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.coupons.domain import rules
from chalicelib.coupons.models import GIVEN, Counter, Coupon, Merchant
from chalicelib.shared.db import get_or_none

COLUMNS = ("day", "given", "claimed", "used", "expired", "discounted_fen")
REPORT_LIMIT = 5000  # coupons read per report (newest first)


def budget_key(merchant_id: str, period: str) -> str:
    return f"budget#{merchant_id}#{period}"


def status_of(coupon: Coupon, now: datetime) -> str:
    if coupon.status == GIVEN and coupon.expires_at <= now:
        return "expired"
    return str(coupon.status)


def of_merchant(merchant_id: str, limit: int = 200) -> list[Coupon]:
    return list(Coupon.by_merchant.query(merchant_id, scan_index_forward=False, limit=limit))


def budget_left(merchant: Merchant, zone: str, now: datetime) -> int | None:
    if merchant.budget_fen is None or merchant.budget_period is None:
        return None
    period = rules.period_key(str(merchant.budget_period), now.astimezone(ZoneInfo(zone)).date())
    key = budget_key(str(merchant.merchant_id), period)
    used = get_or_none(Counter, key, consistent=True)
    return max(0, int(merchant.budget_fen) - (int(used.n or 0) if used is not None else 0))


def report(merchant: Merchant, zone: str, now: datetime) -> dict[str, Any]:
    days: dict[str, dict[str, Any]] = {}

    def row(day: str) -> dict[str, Any]:
        return days.setdefault(day, {"day": day, **{c: 0 for c in COLUMNS[1:]}})

    tz = ZoneInfo(zone)
    for coupon in of_merchant(merchant.merchant_id, REPORT_LIMIT):
        row(str(coupon.given_day))["claimed" if coupon.channel == "claimed" else "given"] += 1
        status = status_of(coupon, now)
        if status == "used" and coupon.used_day:
            used = row(str(coupon.used_day))
            used["used"] += 1
            used["discounted_fen"] += int(coupon.discount_fen or 0)
        elif status == "expired":
            row(coupon.expires_at.astimezone(tz).date().isoformat())["expired"] += 1
    ordered = [days[d] for d in sorted(days)]
    totals = {c: sum(int(r[c]) for r in ordered) for c in COLUMNS[1:]}
    return {
        "merchant_id": merchant.merchant_id,
        "budget_left_fen": budget_left(merchant, zone, now),
        "days": ordered,
        "totals": totals,
    }


def as_csv(data: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(COLUMNS), lineterminator="\n")
    writer.writeheader()
    for r in data["days"]:
        writer.writerow(r)
    return out.getvalue()
