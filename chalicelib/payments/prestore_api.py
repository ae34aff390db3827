"""Prestore and no-sense pay over HTTP (docs/booth.md): a third party, through the staff API until
the open API exists, deposits or overwrites a plate's prestore at a lot; the plate's owner turns
auto-pay from prestore and no-sense pay on or off."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import ports as parking
from chalicelib.payments import contract as c
from chalicelib.payments import prestore
from chalicelib.shared.auth import DRIVER, FINANCE, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.tenancy import require_same_owner

routes = Routes()


def _view(found: prestore.PrestoreView) -> dict[str, Any]:
    return {
        "lot_id": found.lot_id,
        "plate": found.plate,
        "balance_fen": found.balance_fen,
        "auto_pay": found.auto_pay,
        "no_sense": found.no_sense,
    }


@routes.route(
    "/v1/ops/lots/{lot_id}/prestore",
    "PUT",
    body=c.PrestoreIn,
    response=c.PrestoreOut,
    errors=[404, 409],
    auth=STAFF,
    roles=(FINANCE,),
)
def put_prestore(request: Any, lot_id: str, *, me: Principal, body: c.PrestoreIn) -> Response:
    """Deposit (`mode: deposit`) or overwrite (`mode: set`) a plate's prestore at the lot; journal
    posting and audit entry with it."""
    require_same_owner(parking.lot_operator(lot_id), me.operator, NotFound("no such lot", "lot_not_found"))
    plate = parking.clean_plate(body.plate)
    found = prestore.set_prestore(me.user_id, me.operator, lot_id, plate, body.amount_fen, body.mode, now())
    return ok(_view(found))


@routes.route(
    "/v1/driver/plate-pay", "PUT", body=c.PlatePayIn, response=c.PlatePayOut, errors=[403], auth=DRIVER
)
def put_plate_pay(request: Any, *, me: Principal, body: c.PlatePayIn) -> Response:
    """The owner's auto-pay from prestore and no-sense pay (bank auto-debit after exit) for a plate."""
    plate = parking.clean_plate(body.plate)
    parking.require_plate_owner(me.user_id, plate)
    prestore.set_plate_pay(me.user_id, plate, body.auto_pay, body.no_sense, now())
    return ok({"plate": plate, "auto_pay": body.auto_pay, "no_sense": body.no_sense})
