"""Refunds' HTTP edge: drivers ask for a refund of a charging bill or a parking payment and follow
it; customer service opens one on a driver's complaint; finance lists the failed ones and retries
them; staff read their operator's refunds (the former charging refund-request list too) and the
refund policy. The reviews themselves are decided in the approval inbox."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.shared.auth import CUSTOMER_SERVICE, DRIVER, FINANCE, OPS_ADMIN, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.timeutil import iso, iso_or_none
from chalicelib.workflows import engine, refunds
from chalicelib.workflows import refund_contract as c
from chalicelib.workflows.domain import refunds as rules
from chalicelib.workflows.refund_models import Refund

routes = Routes()


def summary(r: Refund) -> dict[str, Any]:
    return {
        "refund_id": r.refund_id,
        "status": r.status,
        "subject_kind": r.subject_kind,
        "subject_id": r.subject_id,
        "origin": r.origin,
        "user_id": r.user_id,
        "amount_fen": int(r.amount_fen),
        "refunded_fen": int(r.refunded_fen or 0),
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "failure": r.failure,
    }


def detail(r: Refund, refundable_fen: int | None = None) -> dict[str, Any]:
    approval = engine.get(str(r.refund_id))
    out = {
        "refund_id": r.refund_id,
        "status": r.status,
        "subject_kind": r.subject_kind,
        "subject_id": r.subject_id,
        "origin": r.origin,
        "amount_fen": int(r.amount_fen),
        "refunded_fen": int(r.refunded_fen or 0),
        "route": r.route,
        "reason": r.reason,
        "levels": list(r.levels or []),
        "created_at": iso(r.created_at),
        "updated_at": iso(r.updated_at),
        "paid_at": iso_or_none(r.paid_at),
        "execution_name": approval.execution_name,
        "steps": refunds.steps(r),
        "notifications": [
            {"at": n["at"], "state": n["state"], "text": n["text"]} for n in r.notifications or []
        ],
    }
    if refundable_fen is not None:
        out["refundable_fen"] = refundable_fen
    return out


# --- drivers ---------------------------------------------------------------------------------


@routes.route(
    "/v1/driver/charging/sessions/{session_id}/refunds",
    "POST",
    body=c.RefundIn,
    response=c.SessionRefundOut,
    status=202,
    errors=[404, 409, 422],
    auth=DRIVER,
)
def ask_session_refund(request: Any, session_id: str, *, me: Principal, body: c.RefundIn) -> Response:
    """A refund of a completed charging bill, bounded by what is refundable counting the requests
    in flight; reviewed by the operator's policy, then paid back to the wallet."""
    opened = refunds.request_for_session(me.user_id, session_id, body.amount_fen, body.reason, now())
    r = opened.refund
    return ok(
        {
            "session_id": session_id,
            "refund_id": r.refund_id,
            "status": r.status,
            "amount_fen": int(r.amount_fen),
            "refundable_fen": opened.refundable_fen,
        },
        status=202,
    )


@routes.route(
    "/v1/driver/parking/payments/{payment_id}/refunds",
    "POST",
    body=c.RefundIn,
    response=c.RefundOut,
    status=202,
    errors=[404, 409, 422],
    auth=DRIVER,
)
def ask_payment_refund(request: Any, payment_id: str, *, me: Principal, body: c.RefundIn) -> Response:
    """A refund of a parking payment (up to what it took, counting the requests in flight),
    paid back through the provider it was paid with."""
    opened = refunds.request_for_payment(me.user_id, payment_id, body.amount_fen, body.reason, now())
    return ok(detail(opened.refund, opened.refundable_fen), status=202)


@routes.route(
    "/v1/driver/wallet/withdrawals",
    "POST",
    body=c.WithdrawalIn,
    response=c.WithdrawalOut,
    status=202,
    errors=[409, 422],
    auth=DRIVER,
)
def withdraw_wallet(request: Any, *, me: Principal, body: c.WithdrawalIn) -> Response:
    """Withdraw part of my wallet's balance: paid back through the top-ups it came from (one
    refund per top-up, reviewed and paid by the refund workflow); the amount leaves the wallet
    now and comes back if a review rejects it."""
    opened = refunds.withdraw(me.user_id, body.amount_fen, body.reason, now())
    return ok({"amount_fen": body.amount_fen, "refunds": [detail(o.refund) for o in opened]}, status=202)


@routes.route("/v1/driver/refunds", "GET", response=c.RefundsOut, auth=DRIVER)
def my_refunds(request: Any, *, me: Principal) -> Response:
    """My refunds, newest first."""
    return ok({"refunds": [summary(r) for r in refunds.of_user(me.user_id)]})


@routes.route("/v1/driver/refunds/{refund_id}", "GET", response=c.RefundOut, errors=[404], auth=DRIVER)
def my_refund(request: Any, refund_id: str, *, me: Principal) -> Response:
    """One of my refunds: its status, amounts, steps and what I was told."""
    return ok(detail(refunds.own(me.user_id, refund_id)))


# --- staff -----------------------------------------------------------------------------------


@routes.route(
    "/v1/ops/refunds",
    "POST",
    body=c.ComplaintRefundIn,
    response=c.RefundOut,
    status=202,
    errors=[404, 409, 422],
    auth=STAFF,
    roles=(CUSTOMER_SERVICE,),
)
def open_complaint_refund(request: Any, *, me: Principal, body: c.ComplaintRefundIn) -> Response:
    """Customer service opens a refund on a driver's complaint (their operator's subjects)."""
    opened = refunds.open_on_complaint(
        me.user_id, me.operator, body.subject_kind, body.subject_id, body.amount_fen, body.reason, now()
    )
    return ok(detail(opened.refund, opened.refundable_fen), status=202)


@routes.route(
    "/v1/ops/refunds",
    "GET",
    query=c.OpsRefundsQuery,
    response=c.RefundsOut,
    auth=STAFF,
    roles=(CUSTOMER_SERVICE, FINANCE),
)
def operator_refunds(request: Any, *, me: Principal, query: c.OpsRefundsQuery) -> Response:
    """My operator's refunds, newest first; `?status=failed`: the ones finance must look at."""
    return ok({"refunds": [summary(r) for r in refunds.of_operator(me.operator, query.status)]})


@routes.route(
    "/v1/ops/refunds/{refund_id}",
    "GET",
    response=c.RefundOut,
    errors=[404],
    auth=STAFF,
    roles=(CUSTOMER_SERVICE, FINANCE),
)
def operator_refund(request: Any, refund_id: str, *, me: Principal) -> Response:
    """One refund of my operator with its steps (who decided, when, why)."""
    return ok(detail(refunds.of_operator_refund(me.operator, refund_id)))


@routes.route(
    "/v1/ops/refunds/{refund_id}/retry",
    "POST",
    response=c.RefundOut,
    status=202,
    errors=[404, 409],
    auth=STAFF,
    roles=(FINANCE,),
)
def retry_refund(request: Any, refund_id: str, *, me: Principal) -> Response:
    """Finance tries a failed refund again (a new execution `{refund_id}.{n}`)."""
    return ok(detail(refunds.retry(refund_id, me.operator, me.user_id, now())), status=202)


@routes.route("/v1/ops/charging/refund-requests", "GET", response=c.RefundRequestsOut, auth=STAFF)
def charging_refund_requests(request: Any, *, me: Principal) -> Response:
    """My operator's charging refunds (the list charging kept before the refund workflow)."""
    return ok(
        {
            "refund_requests": [
                {
                    "refund_id": r.refund_id,
                    "session_id": r.subject_id,
                    "station_id": (r.details or {}).get("station_id"),
                    "user_id": r.user_id,
                    "amount_fen": int(r.amount_fen),
                    "status": r.status,
                    "created_at": iso(r.created_at),
                }
                for r in refunds.of_operator(me.operator)
                if r.subject_kind == rules.CHARGING_SESSION
            ]
        }
    )


@routes.route("/v1/ops/refund-policy", "GET", response=c.PolicyOut, auth=STAFF)
def get_policy(request: Any, *, me: Principal) -> Response:
    """My operator's refund policy: which reviews a refund needs, by origin and amount."""
    return ok({"operator_id": me.operator, **refunds.policy_of(me.operator).as_dict()})


@routes.route(
    "/v1/ops/refund-policy",
    "PUT",
    body=c.PolicyIn,
    response=c.PolicyOut,
    errors=[],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def put_policy(request: Any, *, me: Principal, body: c.PolicyIn) -> Response:
    """Set my operator's refund policy (refunds already open keep their reviews)."""
    data = {
        "finance_above_fen": body.finance_above_fen,
        "customer_service_for": list(body.customer_service_for),
        "finance_for": list(body.finance_for),
    }
    policy = refunds.set_policy(me.operator, data, me.user_id, now())
    return ok({"operator_id": me.operator, **policy.as_dict()})
