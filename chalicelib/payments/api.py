"""Payments' HTTP edge: drivers pay a quote and follow their payments and wallet; providers'
signed notifications are verified and applied once; staff list a lot's payments."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import ports as parking
from chalicelib.payments import checkout, idempotency, orders, sweeper, views, wallet, wallet_flows
from chalicelib.payments import contract as c
from chalicelib.payments.provider import verify_sandbox
from chalicelib.payments.sandbox import SignatureError
from chalicelib.shared.auth import DRIVER, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import SIGNATURE, Routes, error_response, ok
from chalicelib.shared.tenancy import require_same_owner

routes = Routes()


@routes.route(
    "/v1/driver/payments",
    "POST",
    body=c.PaymentIn,
    response=c.CreatedPaymentOut,
    status=201,
    errors=[400, 404, 409, 410, 422, 503],
    auth=DRIVER,
)
def create_payment(request: Any, *, me: Principal, body: c.PaymentIn) -> Response:
    """Pay a quote with `method` (sandbox, wechat, alipay; `payer_id`: the WeChat openid or
    Alipay buyer_id). An `Idempotency-Key` header makes a retry the same payment."""
    created = orders.create(me.user_id, body, now(), idempotency.key_of(request.headers))
    return ok({**views.payment(created.payment), "provider_order": created.provider_order}, status=201)


@routes.route("/v1/driver/payments/{payment_id}", "GET", response=c.PaymentOut, errors=[404], auth=DRIVER)
def get_payment(request: Any, payment_id: str, *, me: Principal) -> Response:
    """A payment's status; a pending WeChat Pay / Alipay order is asked about at the provider
    first (booked when it is paid there), so a driver whose call timed out can ask."""
    return ok(views.payment(sweeper.refresh(orders.get_own(me.user_id, payment_id), now())))


@routes.route(
    "/v1/driver/wallet/top-ups",
    "POST",
    body=c.TopUpIn,
    response=c.CreatedPaymentOut,
    status=201,
    errors=[400, 404, 409, 422, 503],
    auth=DRIVER,
)
def top_up_wallet(request: Any, *, me: Principal, body: c.TopUpIn) -> Response:
    """Top the wallet up through WeChat Pay or Alipay (paid into `lot_id`'s merchant account):
    booked to the wallet when the provider's notification is applied. An `Idempotency-Key`
    header makes a retry the same top-up."""
    payment, order = wallet_flows.create_top_up(
        me.user_id,
        amount_fen=body.amount_fen,
        method=body.method,
        payer_id=body.payer_id,
        lot_id=body.lot_id,
        now=now(),
        idempotency_key=idempotency.key_of(request.headers),
    )
    return ok({**views.payment(payment), "provider_order": order}, status=201)


@routes.route("/v1/driver/wallet", "GET", response=c.WalletOut, auth=DRIVER)
def my_wallet(request: Any, *, me: Principal) -> Response:
    mine = wallet.view(me.user_id)
    return ok({"balance_fen": mine.balance_fen, "status": mine.status})


@routes.route("/v1/ops/lots/{lot_id}/payments", "GET", response=c.LotPaymentsOut, errors=[404], auth=STAFF)
def lot_payments(request: Any, lot_id: str, *, me: Principal) -> Response:
    require_same_owner(parking.lot_operator(lot_id), me.operator, NotFound("no such lot", "lot_not_found"))
    return ok({"lot_id": lot_id, "payments": [views.payment(p) for p in orders.of_lot(lot_id)]})


@routes.route(
    "/v1/callbacks/payments/sandbox",
    "POST",
    response=c.NotificationAnswer,
    errors=[400, 404, 409, 415],
    auth=SIGNATURE,
)
def sandbox_notification(request: Any) -> Response:
    """The signature is checked over the exact bytes first; only then is the body parsed."""
    raw = request.raw_body or b""
    body = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        note = verify_sandbox(request.headers, body)
    except SignatureError as exc:
        return error_response(401, "bad_signature", str(exc))
    result = orders.apply_notification(note, now(), provider=checkout.SANDBOX)  # never another's order
    message = {
        orders.APPLIED: "applied",
        orders.ALREADY_APPLIED: "already applied",
        orders.NOT_SUCCESS: f"noted: trade state {note.trade_state}, nothing applied",
    }[result.outcome]
    return ok({"code": "SUCCESS", "message": message, "outcome": result.outcome})
