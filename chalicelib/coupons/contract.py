"""Coupons' typed HTTP input and output, and the views of its items."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from chalicelib.coupons.models import Batch, Coupon, Merchant, MerchantMember
from chalicelib.shared.timeutil import iso, iso_or_none
from chalicelib.shared.types import Fen, Id, Name, Plate, PositiveFen

Limit = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]
Short = Annotated[str, msgspec.Meta(min_length=1, max_length=20)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class BudgetIn(Strict):
    period: Short  # day | week | month
    fen: Fen


class MerchantIn(Strict):
    lot_id: Id
    name: Name
    merchant_id: Id | None = None
    budget: BudgetIn | None = None


class MemberIn(Strict):
    user_id: Id
    role: Short = "admin"  # super_admin | admin (merchant staff add admins only)


class BatchIn(Strict):
    kind: Short  # amount | time | percent | release
    value: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0
    cap_fen: PositiveFen | None = None
    quantity: Limit | None = None  # required for fixed-value coupons; none: release coupons from the budget
    per_person: Limit | None = None
    per_day: Limit | None = None
    per_person_per_day: Limit | None = None
    expires_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 366)] = 24
    claimable: bool = False  # a QR code drivers scan to claim one


class PurchaseIn(Strict, kw_only=True):
    """A batch of fixed-value coupons the merchant buys (price: face value × quantity)."""

    kind: Short  # amount | release (with cap_fen)
    value: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0
    cap_fen: PositiveFen | None = None
    quantity: Limit
    per_person: Limit | None = None
    per_day: Limit | None = None
    per_person_per_day: Limit | None = None
    expires_hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 366)] = 24
    claimable: bool = False
    method: Annotated[str, msgspec.Meta(max_length=20)] = "sandbox"  # sandbox | wechat | alipay
    payer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None


class LotSettingsIn(Strict):
    one_unused_per_car: bool


class GiveIn(Strict):
    batch_id: Id
    plate: Plate
    confirm_second: bool = False


class CarQuery(msgspec.Struct, kw_only=True):
    plate: Plate


class ClaimIn(Strict):
    code: Id
    plate: Plate


class MerchantOut(msgspec.Struct):
    merchant_id: str
    lot_id: str
    name: str
    budget: dict[str, Any] | None


class MemberOut(msgspec.Struct):
    user_id: str
    merchant_id: str
    role: str


class MeOut(msgspec.Struct):
    merchant: MerchantOut
    role: str


class BatchOut(msgspec.Struct):
    batch_id: str
    merchant_id: str
    source: str
    kind: str
    value: int
    cap_fen: int | None
    quantity: int | None
    issued: int
    limits: dict[str, Any]
    expires_hours: int
    claim_code: str | None


class PurchaseOut(msgspec.Struct):
    batch: BatchOut
    price_fen: int
    payment: dict[str, Any] | None  # the payment as GET /v1/driver/payments/{id} shows it


class CreatedPurchaseOut(PurchaseOut):
    provider_order: dict[str, Any] | None  # what the app needs to pay (None once it is paid)


class BatchesOut(msgspec.Struct):
    batches: list[BatchOut]


class CouponOut(msgspec.Struct):
    coupon_id: str
    merchant_id: str
    batch_id: str
    lot_id: str
    plate: str
    kind: str
    value: int
    cap_fen: int | None
    status: str
    channel: str
    given_at: str
    expires_at: str
    used_at: str | None
    discount_fen: int | None


class CouponsOut(msgspec.Struct):
    coupons: list[CouponOut]


class CarOut(msgspec.Struct):
    plate: str
    entered_at: str
    fee_fen: int
    due_fen: int
    held_from_you: int
    warning: str | None


class LotSettingsOut(msgspec.Struct):
    lot_id: str
    one_unused_per_car: bool


class ReportQuery(msgspec.Struct, kw_only=True):
    """`?format=csv` gives the same days as CSV."""

    format: Annotated[str, msgspec.Meta(max_length=8)] = "json"


class ReportOut(msgspec.Struct):
    merchant_id: str
    budget_left_fen: int | None
    days: list[dict[str, Any]]
    totals: dict[str, int]


def merchant_view(m: Merchant) -> dict[str, Any]:
    budget = {"period": m.budget_period, "fen": int(m.budget_fen)} if m.budget_fen is not None else None
    return {"merchant_id": m.merchant_id, "lot_id": m.lot_id, "name": m.name, "budget": budget}


def member_view(m: MerchantMember) -> dict[str, Any]:
    return {"user_id": m.user_id, "merchant_id": m.merchant_id, "role": m.role}


def _n(value: Any) -> int | None:
    return int(value) if value is not None else None


def batch_view(b: Batch) -> dict[str, Any]:
    return {
        "batch_id": b.batch_id,
        "merchant_id": b.merchant_id,
        "source": b.source,
        "kind": b.kind,
        "value": int(b.value or 0),
        "cap_fen": _n(b.cap_fen),
        "quantity": _n(b.quantity),
        "issued": int(b.issued or 0),
        "limits": {
            "per_person": _n(b.per_person),
            "per_day": _n(b.per_day),
            "per_person_per_day": _n(b.per_person_per_day),
        },
        "expires_hours": int(b.expires_hours),
        "claim_code": b.claim_code,
    }


def coupon_view(c: Coupon, status: str) -> dict[str, Any]:
    return {
        "coupon_id": c.coupon_id,
        "merchant_id": c.merchant_id,
        "batch_id": c.batch_id,
        "lot_id": c.lot_id,
        "plate": c.plate,
        "kind": c.kind,
        "value": int(c.value or 0),
        "cap_fen": _n(c.cap_fen),
        "status": status,
        "channel": c.channel,
        "given_at": iso(c.given_at),
        "expires_at": iso(c.expires_at),
        "used_at": iso_or_none(c.used_at),
        "discount_fen": _n(c.discount_fen),
    }
