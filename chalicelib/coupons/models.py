"""The coupons context's tables.

Access patterns:
- Merchant: by id (every merchant route, the operator's routes on it).
- MerchantMember: by the person's user id (a person belongs to one merchant: the put is
  conditional on the user id not existing).
- Batch: by id (giving); by claim code (GSI `by_code`: a driver scanning a merchant's or a
  campaign's QR code); a merchant's batches by GSI `by_merchant`.
- Coupon: by id (use, conditional on it still being unused); the coupons a plate holds in a lot
  (GSI `by_holder`, hash `lot_plate`: the quote's and the exit's choice); a merchant's coupons in
  time order (GSI `by_merchant`, range `coupon_id`, which sorts by time: reports, listings).
- Counter: by key, added to with a condition on its limit in the transaction that issues a
  coupon (a batch's per-person / per-day limits, a merchant's budget per period, the "one unused
  coupon per car" marker); a lot's coupon options by "lot#<lot_id>".
"""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for

SUPER_ADMIN = "super_admin"
ADMIN = "admin"
MEMBER_ROLES = (SUPER_ADMIN, ADMIN)

GIVEN = "given"
USED = "used"
EXPIRED = "expired"  # shown, never stored: an unused coupon past `expires_at`

ALLOCATED = "allocated"  # fixed-value coupons allocated by the operator
BUDGET = "budget"  # release coupons drawn from the merchant's budget
ORDERED = "ordered"  # bought by the merchant, its payment not confirmed yet: nothing is given from it
BOUGHT = "bought"  # bought by the merchant and paid (purchases.py): its coupons are prepaid


class Merchant(Model):
    class Meta(TableMeta):
        table_name = table_name_for("coupon-merchants")

    merchant_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    name = UnicodeAttribute()
    budget_period = UnicodeAttribute(null=True)  # day | week | month
    budget_fen = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()


class MerchantMember(Model):
    class Meta(TableMeta):
        table_name = table_name_for("coupon-merchant-members")

    user_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    role = UnicodeAttribute()
    added_at = UTCDateTimeAttribute()
    added_by = UnicodeAttribute()


class BatchesByCode(GlobalSecondaryIndex["Batch"]):
    class Meta:
        index_name = "by_code"
        projection = AllProjection()

    claim_code = UnicodeAttribute(hash_key=True)


class BatchesByMerchant(GlobalSecondaryIndex["Batch"]):
    class Meta:
        index_name = "by_merchant"
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    batch_id = UnicodeAttribute(range_key=True)


class Batch(Model):
    class Meta(TableMeta):
        table_name = table_name_for("coupon-batches")

    batch_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    source = UnicodeAttribute()  # allocated | budget | ordered → bought
    kind = UnicodeAttribute()
    value = NumberAttribute(default=0)
    cap_fen = NumberAttribute(null=True)
    quantity = NumberAttribute(null=True)  # None: no total limit (budget batches)
    issued = NumberAttribute(default=0)
    per_person = NumberAttribute(null=True)
    per_day = NumberAttribute(null=True)
    per_person_per_day = NumberAttribute(null=True)
    expires_hours = NumberAttribute()
    claim_code = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    # bought batches: the price in fen, the payment that pays it and when it was confirmed
    price_fen = NumberAttribute(null=True)
    payment_id = UnicodeAttribute(null=True)
    paid_at = UTCDateTimeAttribute(null=True)

    by_code = BatchesByCode()
    by_merchant = BatchesByMerchant()


class CouponsByHolder(GlobalSecondaryIndex["Coupon"]):
    class Meta:
        index_name = "by_holder"
        projection = AllProjection()

    lot_plate = UnicodeAttribute(hash_key=True)
    coupon_id = UnicodeAttribute(range_key=True)


class CouponsByMerchant(GlobalSecondaryIndex["Coupon"]):
    class Meta:
        index_name = "by_merchant"
        projection = AllProjection()

    merchant_id = UnicodeAttribute(hash_key=True)
    coupon_id = UnicodeAttribute(range_key=True)


class Coupon(Model):
    class Meta(TableMeta):
        table_name = table_name_for("coupons")

    coupon_id = UnicodeAttribute(hash_key=True)
    merchant_id = UnicodeAttribute()
    batch_id = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    lot_plate = UnicodeAttribute()
    plate = UnicodeAttribute()
    kind = UnicodeAttribute()
    value = NumberAttribute(default=0)
    cap_fen = NumberAttribute(null=True)
    status = UnicodeAttribute()  # given | used
    channel = UnicodeAttribute()  # given (by merchant staff) | claimed (by a driver's QR scan)
    given_by = UnicodeAttribute()
    given_at = UTCDateTimeAttribute()
    given_day = UnicodeAttribute()  # the lot's local date it was given (reports)
    expires_at = UTCDateTimeAttribute()
    hold_fen = NumberAttribute(default=0)  # budget coupons: what it reserved from the budget
    used_at = UTCDateTimeAttribute(null=True)
    used_day = UnicodeAttribute(null=True)
    used_ref = UnicodeAttribute(null=True)  # the payment (or the exit) that used it
    visit_id = UnicodeAttribute(null=True)
    discount_fen = NumberAttribute(null=True)
    prepaid = BooleanAttribute(
        null=True
    )  # of a bought batch: its discount is taken from what the merchant paid

    by_holder = CouponsByHolder()
    by_merchant = CouponsByMerchant()


class Counter(Model):
    """A counter (`n`), a marker (`until`, `ref`) or a lot's coupon options (`flag`): small items
    by key, one table (each table costs every role that touches it a line of policy)."""

    class Meta(TableMeta):
        table_name = table_name_for("coupon-counters")

    key = UnicodeAttribute(hash_key=True)
    n = NumberAttribute(default=0)
    until = UTCDateTimeAttribute(null=True)
    ref = UnicodeAttribute(null=True)
    # lot options (key "lot#<lot_id>"): "each car holds at most one unused coupon"
    flag = BooleanAttribute(null=True)
    operator_id = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)


def lot_settings_key(lot_id: str) -> str:
    return f"lot#{lot_id}"


MODELS: list[type[Model]] = [Merchant, MerchantMember, Batch, Coupon, Counter]
