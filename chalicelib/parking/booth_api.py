"""The booth over HTTP (docs/booth.md): a cashier opens and closes their shift at a lot (closing
answers the shift's totals), the lot's shifts are listed for the booth and finance, an ops
admin sets the lot's cash threshold, and a cashier takes a plate's arrears (a driver sees their
plate's). Another operator's lot answers 404."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import arrears, lots, shifts
from chalicelib.parking import contract as c
from chalicelib.parking.domain.booth import DEFAULT_CONFIRM_ABOVE_FEN
from chalicelib.parking.models import Lot
from chalicelib.platform import audit
from chalicelib.shared.auth import CASHIER, CUSTOMER_SERVICE, DRIVER, FINANCE, OPS_ADMIN, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.db import transaction
from chalicelib.shared.http import Routes, ok

routes = Routes()
SHIFTS = "/v1/ops/lots/{lot_id}/shifts"
ARREARS = "/v1/ops/lots/{lot_id}/plates/{plate}/arrears"


@routes.route(
    SHIFTS, "POST", response=c.ShiftOut, status=201, errors=[404, 409], auth=STAFF, roles=(CASHIER,)
)
def open_shift(request: Any, lot_id: str, *, me: Principal) -> Response:
    """Open the caller's shift at this lot (409 `shift_already_open` while one is open)."""
    lots.own(me.operator, lot_id)
    return ok(shifts.view(shifts.open_shift(me.user_id, me.operator, lot_id, now())), status=201)


@routes.route(
    f"{SHIFTS}/current/close", "POST", response=c.ShiftOut, errors=[404, 409], auth=STAFF, roles=(CASHIER,)
)
def close_shift(request: Any, lot_id: str, *, me: Principal) -> Response:
    """Close the caller's open shift at this lot: its totals (cash by method, abnormal releases and
    what they waived). 409 `no_open_shift` without one."""
    lots.own(me.operator, lot_id)
    return ok(shifts.view(shifts.close_shift(me.user_id, me.operator, lot_id, now())))


@routes.route(SHIFTS, "GET", response=c.ShiftsOut, errors=[404], auth=STAFF, roles=(CASHIER, FINANCE))
def list_shifts(request: Any, lot_id: str, *, me: Principal) -> Response:
    """The lot's shifts, newest first, with their totals (an open one's so far)."""
    lots.own(me.operator, lot_id)
    return ok({"lot_id": lot_id, "shifts": [shifts.view(s) for s in shifts.of_lot(lot_id)]})


@routes.route(
    "/v1/ops/lots/{lot_id}/booth-policy",
    "PUT",
    body=c.BoothPolicyIn,
    response=c.BoothPolicyOut,
    errors=[404],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def put_booth_policy(request: Any, lot_id: str, *, me: Principal, body: c.BoothPolicyIn) -> Response:
    """The lot's cash threshold: cash above it is taken only when the cashier confirms it."""
    lot = lots.own(me.operator, lot_id)
    before = lot.cash_confirm_above_fen
    at = now()
    with transaction() as tx:
        tx.update(
            lot,
            actions=[Lot.cash_confirm_above_fen.set(body.confirm_above_fen), Lot.updated_at.set(at)],
            condition=Lot.operator_id == me.operator,
        )
        audit.add(
            tx,
            me.user_id,
            me.operator,
            "lot",
            lot_id,
            "booth_policy",
            {"confirm_above_fen": int(before) if before is not None else DEFAULT_CONFIRM_ABOVE_FEN},
            {"confirm_above_fen": body.confirm_above_fen},
            None,
            at,
        )
    return ok({"lot_id": lot_id, "confirm_above_fen": body.confirm_above_fen})


@routes.route(
    ARREARS,
    "GET",
    response=c.ArrearsOut,
    errors=[404],
    auth=STAFF,
    roles=(CASHIER, CUSTOMER_SERVICE, FINANCE),
)
def plate_arrears(request: Any, lot_id: str, plate: str, *, me: Principal) -> Response:
    """What the plate owes at this lot, by earlier visit (unpaid exits in open-gate mode)."""
    return ok(arrears.show(me.operator, lot_id, plate))


@routes.route(
    f"{ARREARS}/cash",
    "POST",
    body=c.CashIn,
    response=c.ArrearsCashOut,
    errors=[404, 409],
    auth=STAFF,
    roles=(CASHIER,),
)
def arrears_cash(request: Any, lot_id: str, plate: str, *, me: Principal, body: c.CashIn) -> Response:
    """The cashier takes the plate's whole arrears in cash, in their open shift (docs/booth.md):
    the earlier visits are settled and the automatic arrears blacklist is lifted. 409
    `no_arrears` when nothing is owed, `arrears_not_covered` for less than all of it,
    `arrears_on_visit` while its visit inside carries them, `no_open_shift` without a shift."""
    done = arrears.take_cash(
        me.user_id,
        me.operator,
        lot_id,
        plate,
        now(),
        amount_fen=body.amount_fen,
        tendered_fen=body.tendered_fen,
        confirmed=body.confirmed,
    )
    return ok(done)


@routes.route(
    "/v1/driver/arrears", "GET", query=c.ArrearsQuery, response=c.ArrearsOut, errors=[403, 404], auth=DRIVER
)
def my_arrears(request: Any, *, me: Principal, query: c.ArrearsQuery) -> Response:
    """What one of the driver's plates owes at a lot (unpaid exits), by visit; read only."""
    return ok(arrears.show_own(me.user_id, query.lot_id, query.plate))
