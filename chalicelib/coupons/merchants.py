"""Merchants at a lot (set up by the operator's staff), their staff (a super admin who adds
admins; a person belongs to one merchant), batches allocated by the operator, the merchant's
budget for release coupons, and the lot's coupon options. Every change by staff is audited."""

from __future__ import annotations

import secrets
from datetime import datetime

from pynamodb.exceptions import TransactWriteError

from chalicelib.coupons import contract as c
from chalicelib.coupons.domain import rules
from chalicelib.coupons.models import (
    ADMIN,
    ALLOCATED,
    BUDGET,
    SUPER_ADMIN,
    Batch,
    Counter,
    Merchant,
    MerchantMember,
    lot_settings_key,
)
from chalicelib.parking import ports as parking
from chalicelib.platform import audit
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.tenancy import require_same_owner

NO_MERCHANT = NotFound("no such merchant", "merchant_not_found")


def of_operator(merchant_id: str, operator_id: str) -> Merchant:
    """The operator's merchant (another operator's answers like one that does not exist)."""
    merchant = get_or_none(Merchant, merchant_id)
    require_same_owner(merchant.operator_id if merchant is not None else None, operator_id, NO_MERCHANT)
    assert merchant is not None
    return merchant


def membership(user_id: str) -> tuple[MerchantMember, Merchant]:
    """The caller's merchant (Forbidden when the person belongs to none)."""
    member = get_or_none(MerchantMember, user_id, consistent=True)
    merchant = get_or_none(Merchant, member.merchant_id) if member is not None else None
    if member is None or merchant is None:
        raise Forbidden("you are not a member of a merchant", "not_a_merchant_member")
    return member, merchant


def _budget(body: c.BudgetIn | None) -> tuple[str | None, int | None]:
    if body is None:
        return None, None
    if body.period not in rules.PERIODS:
        raise Invalid(f"budget period must be one of {', '.join(rules.PERIODS)}", "invalid_budget")
    return body.period, body.fen


def create(who: str, operator_id: str, body: c.MerchantIn, now: datetime) -> Merchant:
    require_same_owner(
        parking.lot_operator(body.lot_id), operator_id, NotFound("no such lot", "lot_not_found")
    )
    period, fen = _budget(body.budget)
    merchant = Merchant(
        body.merchant_id or sortable_id("mch", now),
        operator_id=operator_id,
        lot_id=body.lot_id,
        name=body.name,
        budget_period=period,
        budget_fen=fen,
        created_at=now,
        created_by=who,
    )
    try:
        with transaction() as tx:
            tx.save(merchant, condition=Merchant.merchant_id.does_not_exist())
            audit.add(
                tx,
                who,
                operator_id,
                "merchant",
                merchant.merchant_id,
                "create",
                None,
                c.merchant_view(merchant),
                None,
                now,
            )
    except TransactWriteError as exc:
        if failed_condition(exc, index=0):
            raise Conflict("a merchant with this id exists", "merchant_exists") from exc
        raise
    return merchant


def set_budget(who: str, operator_id: str, merchant_id: str, body: c.BudgetIn, now: datetime) -> Merchant:
    merchant = of_operator(merchant_id, operator_id)
    before = c.merchant_view(merchant)
    period, fen = _budget(body)
    assert period is not None and fen is not None
    with transaction() as tx:
        tx.update(
            merchant,
            actions=[Merchant.budget_period.set(period), Merchant.budget_fen.set(fen)],
            condition=Merchant.operator_id == operator_id,
        )
        merchant.budget_period, merchant.budget_fen = period, fen
        audit.add(
            tx,
            who,
            operator_id,
            "merchant",
            merchant_id,
            "budget",
            before,
            c.merchant_view(merchant),
            None,
            now,
        )
    return merchant


def add_member(who: str, merchant: Merchant, user_id: str, role: str, now: datetime) -> MerchantMember:
    """A person joins a merchant (only one merchant per person)."""
    if role not in (SUPER_ADMIN, ADMIN):
        raise Invalid("role must be super_admin or admin", "invalid_role")
    member = MerchantMember(user_id, merchant_id=merchant.merchant_id, role=role, added_at=now, added_by=who)
    try:
        with transaction() as tx:
            tx.save(member, condition=MerchantMember.user_id.does_not_exist())
            audit.add(
                tx,
                who,
                str(merchant.operator_id),
                "merchant_member",
                user_id,
                "add",
                None,
                {"merchant_id": merchant.merchant_id, "role": role},
                None,
                now,
            )
    except TransactWriteError as exc:
        if failed_condition(exc, index=0):
            raise Conflict("this person already belongs to a merchant", "already_a_member") from exc
        raise
    return member


def add_admin(me: MerchantMember, merchant: Merchant, user_id: str, now: datetime) -> MerchantMember:
    """A merchant's super admin adds an ordinary admin."""
    if me.role != SUPER_ADMIN:
        raise Forbidden("only the merchant's super admin adds staff", "super_admin_only")
    return add_member(me.user_id, merchant, user_id, ADMIN, now)


def allocate(who: str, operator_id: str, merchant_id: str, body: c.BatchIn, now: datetime) -> Batch:
    """A batch of coupons for a merchant: fixed-value coupons allocated by the operator
    (`source` allocated, a quantity), or release coupons drawn from the merchant's budget."""
    merchant = of_operator(merchant_id, operator_id)
    face = rules.Face(body.kind, body.value, body.cap_fen)
    try:
        rules.check_face(face)
    except rules.CouponRuleError as exc:
        raise Invalid(str(exc), "invalid_coupon") from exc
    source = BUDGET if body.kind == "release" and body.quantity is None else ALLOCATED
    if source == BUDGET and merchant.budget_fen is None:
        raise Conflict("this merchant has no budget for release coupons; set one first", "no_budget")
    if source == ALLOCATED and body.quantity is None:
        raise Invalid("quantity is required for a batch of fixed-value coupons", "quantity_required")
    batch = new_batch(merchant, body, source, who, now)
    with transaction() as tx:
        tx.save(batch, condition=Batch.batch_id.does_not_exist())
        audit.add(
            tx,
            who,
            operator_id,
            "coupon_batch",
            batch.batch_id,
            "allocate",
            None,
            c.batch_view(batch),
            None,
            now,
        )
    return batch


def new_batch(
    merchant: Merchant, body: c.BatchIn | c.PurchaseIn, source: str, who: str, now: datetime
) -> Batch:
    """A batch of the merchant's from its definition (allocated, from the budget, or bought)."""
    return Batch(
        sortable_id("bat", now),
        merchant_id=merchant.merchant_id,
        operator_id=merchant.operator_id,
        lot_id=merchant.lot_id,
        source=source,
        kind=body.kind,
        value=body.value,
        cap_fen=body.cap_fen,
        quantity=body.quantity,
        issued=0,
        per_person=body.per_person,
        per_day=body.per_day,
        per_person_per_day=body.per_person_per_day,
        expires_hours=body.expires_hours,
        claim_code=("qr-" + secrets.token_urlsafe(12)) if body.claimable else None,
        created_at=now,
        created_by=who,
    )


def batches(merchant_id: str) -> list[Batch]:
    return list(Batch.by_merchant.query(merchant_id, scan_index_forward=False, limit=200))


def one_unused_per_car(lot_id: str) -> bool:
    """The lot's option "each car holds at most one unused coupon"."""
    item = get_or_none(Counter, lot_settings_key(lot_id))
    return bool(item is not None and item.flag)


def set_lot_settings(who: str, operator_id: str, lot_id: str, body: c.LotSettingsIn, now: datetime) -> bool:
    require_same_owner(parking.lot_operator(lot_id), operator_id, NotFound("no such lot", "lot_not_found"))
    before = one_unused_per_car(lot_id)
    item = Counter(
        lot_settings_key(lot_id),
        flag=body.one_unused_per_car,
        operator_id=operator_id,
        updated_at=now,
        updated_by=who,
    )
    with transaction() as tx:
        tx.save(item)
        audit.add(
            tx,
            who,
            operator_id,
            "lot",
            lot_id,
            "coupon_settings",
            {"one_unused_per_car": before},
            {"one_unused_per_car": body.one_unused_per_car},
            None,
            now,
        )
    return body.one_unused_per_car
