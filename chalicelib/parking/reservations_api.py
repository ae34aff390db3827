"""Reservations over HTTP (docs/identities.md): a driver lists and reads their own, pays a paid
reservation (fee + prepaid parking) and cancels it before its window; anyone else's answers 404.
Staff list a lot's reservations (another operator's lot answers 404). Booking one is
`POST /v1/driver/reservations` (identities_api)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import identity_contract as c
from chalicelib.parking import lots, paid_reservations
from chalicelib.payments import ports as payments
from chalicelib.shared.auth import DRIVER, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.http import Routes, ok

routes = Routes()
PATH = "/v1/driver/reservations"


@routes.route(PATH, "GET", response=c.ReservationsOut, auth=DRIVER)
def my_reservations(request: Any, *, me: Principal) -> Response:
    """The caller's reservations, newest first."""
    return ok({"items": paid_reservations.mine(me.user_id)})


@routes.route(f"{PATH}/{{reservation_id}}", "GET", response=c.ReservationOut, errors=[404], auth=DRIVER)
def my_reservation(request: Any, reservation_id: str, *, me: Principal) -> Response:
    return ok(paid_reservations.view(paid_reservations.own(me.user_id, reservation_id)))


@routes.route(
    f"{PATH}/{{reservation_id}}/payments",
    "POST",
    body=c.ReservationPaymentIn,
    response=c.ReservationPaymentOut,
    status=201,
    errors=[400, 404, 409, 422, 503],
    auth=DRIVER,
)
def pay_reservation(
    request: Any, reservation_id: str, *, me: Principal, body: c.ReservationPaymentIn
) -> Response:
    """Pay a paid reservation's fee + prepaid parking with `method` (sandbox, wechat, alipay;
    `payer_id`: the WeChat openid or Alipay buyer_id): the pass is written when the provider
    confirms the payment. An `Idempotency-Key` header makes a retry the same payment."""
    key = payments.idempotency_key(request.headers)
    paid = paid_reservations.pay(me.user_id, reservation_id, body.method, body.payer_id, now(), key)
    return ok(paid, status=201)


@routes.route(
    f"{PATH}/{{reservation_id}}/cancel", "POST", response=c.ReservationOut, errors=[404, 409], auth=DRIVER
)
def cancel_reservation(request: Any, reservation_id: str, *, me: Principal) -> Response:
    """Cancel a paid reservation before its window starts: fee and prepaid are refunded to the
    payer automatically (`owed_back_fen`)."""
    return ok(paid_reservations.cancel(me.user_id, reservation_id, now()))


@routes.route(
    "/v1/ops/lots/{lot_id}/reservations", "GET", response=c.LotReservationsOut, errors=[404], auth=STAFF
)
def lot_reservations(request: Any, lot_id: str, *, me: Principal) -> Response:
    """The lot's reservations, free and paid (status, amounts, what a paid one owes back), newest
    first."""
    lots.own(me.operator, lot_id)
    return ok({"lot_id": lot_id, "items": paid_reservations.of_lot(lot_id)})
