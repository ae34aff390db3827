"""The coupons a plate holds and their exactly-once use: what parking's quote and exit ask
through `coupons.ports` (coupons never read parking's tables; parking never reads these)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.coupons.domain.rules import Face, Held
from chalicelib.coupons.models import GIVEN, USED, Counter, Coupon
from chalicelib.ledger import ports as ledger

HOLDER_LIMIT = 50  # coupons read per plate at a quote (newest first)


def held_of(coupon: Coupon) -> Held:
    cap = int(coupon.cap_fen) if coupon.cap_fen is not None else None
    return Held(
        str(coupon.coupon_id),
        str(coupon.merchant_id),
        Face(str(coupon.kind), int(coupon.value or 0), cap),
        coupon.expires_at,
        bool(coupon.prepaid),
    )


def usable(lot_plate: str, now: datetime) -> list[Held]:
    """The unused, unexpired coupons a plate holds in a lot (one Query of the holder index)."""
    out = []
    for coupon in Coupon.by_holder.query(lot_plate, scan_index_forward=False, limit=HOLDER_LIMIT):
        if coupon.status == GIVEN and coupon.expires_at > now:
            out.append(held_of(coupon))
    return out


def by_ids(ids: Iterable[str], lot_plate: str, now: datetime) -> list[Held]:
    """The named coupons still usable by this plate (strongly consistent reads)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    out = []
    for coupon in Coupon.batch_get(wanted, consistent_read=True):
        if coupon.status == GIVEN and coupon.lot_plate == lot_plate and coupon.expires_at > now:
            out.append(held_of(coupon))
    order = {cid: i for i, cid in enumerate(wanted)}
    return sorted(out, key=lambda h: order[h.coupon_id])


def use(
    tx: TransactWrite,
    entry: Mapping[str, Any],
    *,
    lot_plate: str,
    lot_id: str,
    operator_id: str | None,
    zone: str | None,
    visit_id: str,
    used_by: str,
    now: datetime,
) -> int:
    """The coupons of one discount line (`Choice.entry()`) used on a visit, as items of the
    caller's transaction: each only while still unused, unexpired and held by this plate (a
    coupon another payment or exit used first fails the whole transaction), each with its
    journal posting (the merchant's discount), and the plate's "one unused coupon" marker ended.
    Updates and puts only, after the caller's own items of each kind; returns how many puts (the
    postings) it added, which DynamoDB sends before every update."""
    ids = [str(i) for i in entry.get("coupon_ids", [])]
    merchants = entry.get("merchant_by_coupon") or {}
    prepaid = set(entry.get("prepaid_coupons") or ())
    amount = int(entry.get("amount_fen", 0))
    base, extra = divmod(amount, len(ids)) if ids else (0, 0)
    day = ledger.local_day(now, zone)
    puts = 0
    for index, coupon_id in enumerate(ids):
        share = base + (1 if index < extra else 0)
        tx.update(
            Coupon(coupon_id),
            actions=[
                Coupon.status.set(USED),
                Coupon.used_at.set(now),
                Coupon.used_day.set(day),
                Coupon.used_ref.set(used_by),
                Coupon.visit_id.set(visit_id),
                Coupon.discount_fen.set(share),
            ],
            condition=(Coupon.status == GIVEN) & (Coupon.lot_plate == lot_plate) & (Coupon.expires_at > now),
        )
        posting = ledger.coupon_used(
            coupon_id,
            merchant_id=str(merchants.get(coupon_id) or (entry.get("merchant_ids") or ["-"])[0]),
            lot_id=lot_id,
            operator_id=operator_id,
            visit_id=visit_id,
            amount_fen=share,
            used_by=used_by,
            at=now,
            prepaid=coupon_id in prepaid,
        )
        ledger.add(tx, posting, zone)
        puts += posting is not None
    if ids:
        # An update, not a delete: a transaction's deletes go before its puts, and callers read the
        # index of their first put (the inbox marker, the payment's posting) from cancellations.
        tx.update(Counter(unused_marker(lot_plate)), actions=[Counter.until.set(now)])
    return puts


def unused_marker(lot_plate: str) -> str:
    return f"unused#{lot_plate}"
