"""Coupons' HTTP edge: the operator's staff set up merchants, their super admins, budgets and
batches and the lot's coupon options; merchant staff see a car before giving, give coupons and
read their reports; drivers claim coupons by QR code. A merchant sees only its own."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.coupons import contract as c
from chalicelib.coupons import giving, merchants, purchases, reports
from chalicelib.coupons.models import Merchant
from chalicelib.parking import ports as parking
from chalicelib.payments import ports as payments
from chalicelib.shared.auth import DRIVER, MERCHANT, OPS_ADMIN, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid
from chalicelib.shared.http import Routes, ok

routes = Routes()


def _report(merchant: Merchant, query: c.ReportQuery) -> Response:
    data = reports.report(merchant, parking.lot_timezone(str(merchant.lot_id)), now())
    if query.format == "csv":
        return Response(
            body=reports.as_csv(data),
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="coupons-{merchant.merchant_id}.csv"',
            },
        )
    if query.format != "json":
        raise Invalid("format must be json or csv", "invalid_format")
    return ok(data)


# --- the operator's staff -----------------------------------------------------------------------


@routes.route(
    "/v1/ops/merchants",
    "POST",
    body=c.MerchantIn,
    response=c.MerchantOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def create_merchant(request: Any, *, me: Principal, body: c.MerchantIn) -> Response:
    """A merchant at one of the operator's lots, optionally with a budget for release coupons."""
    return ok(c.merchant_view(merchants.create(me.user_id, me.operator, body, now())), status=201)


@routes.route("/v1/ops/merchants/{merchant_id}", "GET", response=c.MerchantOut, errors=[404], auth=STAFF)
def get_merchant(request: Any, merchant_id: str, *, me: Principal) -> Response:
    return ok(c.merchant_view(merchants.of_operator(merchant_id, me.operator)))


@routes.route(
    "/v1/ops/merchants/{merchant_id}/budget",
    "PUT",
    body=c.BudgetIn,
    response=c.MerchantOut,
    errors=[404],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def set_budget(request: Any, merchant_id: str, *, me: Principal, body: c.BudgetIn) -> Response:
    """The merchant's budget for release coupons per day, week or month."""
    return ok(c.merchant_view(merchants.set_budget(me.user_id, me.operator, merchant_id, body, now())))


@routes.route(
    "/v1/ops/merchants/{merchant_id}/members",
    "POST",
    body=c.MemberIn,
    response=c.MemberOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def add_member(request: Any, merchant_id: str, *, me: Principal, body: c.MemberIn) -> Response:
    """A person joins the merchant (its super admin, usually); a person belongs to one merchant."""
    merchant = merchants.of_operator(merchant_id, me.operator)
    return ok(
        c.member_view(merchants.add_member(me.user_id, merchant, body.user_id, body.role, now())), status=201
    )


@routes.route(
    "/v1/ops/merchants/{merchant_id}/batches",
    "POST",
    body=c.BatchIn,
    response=c.BatchOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def allocate_batch(request: Any, merchant_id: str, *, me: Principal, body: c.BatchIn) -> Response:
    """Coupons for the merchant: a quantity of fixed-value ones, or release coupons (no quantity)
    drawn from its budget; limits per person and day; expiry hours after giving."""
    return ok(c.batch_view(merchants.allocate(me.user_id, me.operator, merchant_id, body, now())), status=201)


@routes.route(
    "/v1/ops/merchants/{merchant_id}/report",
    "GET",
    query=c.ReportQuery,
    response=c.ReportOut,
    errors=[404],
    auth=STAFF,
)
def merchant_report(request: Any, merchant_id: str, *, me: Principal, query: c.ReportQuery) -> Response:
    """Per day: coupons given, claimed, used, expired, the amount discounted; the budget left."""
    return _report(merchants.of_operator(merchant_id, me.operator), query)


@routes.route(
    "/v1/ops/lots/{lot_id}/coupon-settings",
    "PUT",
    body=c.LotSettingsIn,
    response=c.LotSettingsOut,
    errors=[404],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def set_lot_coupon_settings(request: Any, lot_id: str, *, me: Principal, body: c.LotSettingsIn) -> Response:
    """The lot's option "each car holds at most one unused coupon"."""
    flag = merchants.set_lot_settings(me.user_id, me.operator, lot_id, body, now())
    return ok({"lot_id": lot_id, "one_unused_per_car": flag})


# --- merchant staff -----------------------------------------------------------------------------


@routes.route("/v1/merchant/me", "GET", response=c.MeOut, auth=MERCHANT)
def merchant_me(request: Any, *, me: Principal) -> Response:
    member, merchant = merchants.membership(me.user_id)
    return ok({"merchant": c.merchant_view(merchant), "role": member.role})


@routes.route(
    "/v1/merchant/members",
    "POST",
    body=c.MemberIn,
    response=c.MemberOut,
    status=201,
    errors=[409],
    auth=MERCHANT,
)
def merchant_add_admin(request: Any, *, me: Principal, body: c.MemberIn) -> Response:
    """The super admin adds an ordinary admin to the merchant."""
    member, merchant = merchants.membership(me.user_id)
    return ok(c.member_view(merchants.add_admin(member, merchant, body.user_id, now())), status=201)


@routes.route("/v1/merchant/batches", "GET", response=c.BatchesOut, auth=MERCHANT)
def merchant_batches(request: Any, *, me: Principal) -> Response:
    _, merchant = merchants.membership(me.user_id)
    return ok({"batches": [c.batch_view(b) for b in merchants.batches(merchant.merchant_id)]})


@routes.route(
    "/v1/merchant/batch-purchases",
    "POST",
    body=c.PurchaseIn,
    response=c.CreatedPurchaseOut,
    status=201,
    errors=[400, 403, 409, 422, 503],
    auth=MERCHANT,
)
def buy_batch(request: Any, *, me: Principal, body: c.PurchaseIn) -> Response:
    """The super admin buys a batch of fixed-value coupons at face value × quantity, paid with
    `method` (sandbox, wechat, alipay; `payer_id`: the WeChat openid or Alipay buyer_id) into the
    lot's merchant account; its coupons can be given once the provider confirms the payment. An
    `Idempotency-Key` header makes a retry the same order."""
    member, merchant = merchants.membership(me.user_id)
    key = payments.idempotency_key(request.headers)
    return ok(purchases.order(member, merchant, body, now(), key), status=201)


@routes.route(
    "/v1/merchant/batch-purchases/{batch_id}",
    "GET",
    response=c.PurchaseOut,
    errors=[404],
    auth=MERCHANT,
)
def batch_purchase(request: Any, batch_id: str, *, me: Principal) -> Response:
    """A bought batch and its payment (a pending WeChat Pay / Alipay order is asked about first)."""
    _, merchant = merchants.membership(me.user_id)
    return ok(purchases.status(merchant, batch_id, now()))


@routes.route("/v1/merchant/car", "GET", query=c.CarQuery, response=c.CarOut, errors=[409], auth=MERCHANT)
def merchant_car(request: Any, *, me: Principal, query: c.CarQuery) -> Response:
    """Before giving (`?plate=`): the car's entry time and current fee, and the coupons of yours it holds."""
    _, merchant = merchants.membership(me.user_id)
    view = giving.look_up(merchant, query.plate, now())
    warning = (
        f"this car already holds {view.held_from_merchant} unused coupon(s) from you"
        if view.held_from_merchant
        else None
    )
    return ok(
        {
            "plate": view.car.plate,
            "entered_at": view.car.entered_at.isoformat().replace("+00:00", "Z"),
            "fee_fen": view.car.fee_fen,
            "due_fen": view.car.due_fen,
            "held_from_you": view.held_from_merchant,
            "warning": warning,
        }
    )


@routes.route(
    "/v1/merchant/coupons",
    "POST",
    body=c.GiveIn,
    response=c.CouponOut,
    status=201,
    errors=[404, 409],
    auth=MERCHANT,
)
def give_coupon(request: Any, *, me: Principal, body: c.GiveIn) -> Response:
    """A coupon of one of your batches to a car in the lot."""
    _, merchant = merchants.membership(me.user_id)
    coupon = giving.give(me.user_id, merchant, body.batch_id, body.plate, body.confirm_second, now())
    return ok(c.coupon_view(coupon, coupon.status), status=201)


@routes.route("/v1/merchant/coupons", "GET", response=c.CouponsOut, auth=MERCHANT)
def merchant_coupons(request: Any, *, me: Principal) -> Response:
    """Your coupons, newest first."""
    _, merchant = merchants.membership(me.user_id)
    at = now()
    items = reports.of_merchant(merchant.merchant_id)
    return ok({"coupons": [c.coupon_view(x, reports.status_of(x, at)) for x in items]})


@routes.route("/v1/merchant/report", "GET", query=c.ReportQuery, response=c.ReportOut, auth=MERCHANT)
def my_report(request: Any, *, me: Principal, query: c.ReportQuery) -> Response:
    """Per day: coupons given, claimed, used, expired, the amount discounted; the budget left."""
    _, merchant = merchants.membership(me.user_id)
    return _report(merchant, query)


# --- drivers ------------------------------------------------------------------------------------


@routes.route(
    "/v1/driver/coupons/claims",
    "POST",
    body=c.ClaimIn,
    response=c.CouponOut,
    status=201,
    errors=[403, 404, 409],
    auth=DRIVER,
)
def claim_coupon(request: Any, *, me: Principal, body: c.ClaimIn) -> Response:
    """A coupon claimed with the code of a merchant's or a campaign's QR code, for your car in the lot."""
    coupon = giving.claim(me.user_id, body.code, body.plate, now())
    return ok(c.coupon_view(coupon, coupon.status), status=201)
