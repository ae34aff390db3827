"""Staff's hands on the gate, over HTTP: abnormal release, remote open, manual match, plate
correction, cash at the booth, closing a stale visit (cashier, customer service; an ops admin
holds both), the lot's live occupancy and the records with their CSV export. Another operator's
lot answers 404."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import config, lots, occupancy, ops, records
from chalicelib.parking import contract as c
from chalicelib.parking.domain import plates
from chalicelib.shared.auth import CASHIER, CUSTOMER_SERVICE, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid
from chalicelib.shared.http import Routes, ok

routes = Routes()
HANDS = (CASHIER, CUSTOMER_SERVICE)
LANE = "/v1/ops/lots/{lot_id}/lanes/{lane_id}"
VISIT = "/v1/ops/lots/{lot_id}/visits/{visit_id}"


def _staff(me: Principal) -> ops.Staff:
    return ops.Staff(me.user_id, me.operator)


def _done(done: ops.Done) -> Response:
    return ok(_done_body(done))


def _done_body(done: ops.Done) -> dict[str, Any]:
    return {
        "action": done.action,
        "visit_id": done.visit_id,
        "result": done.result,
        "due_fen": done.due_fen,
        "commands": [
            {
                "correlation_id": cmd.correlation_id,
                "device_id": cmd.device_id,
                "command": cmd.command,
                "message": cmd.message,
            }
            for cmd in done.commands
        ],
    }


@routes.route(
    f"{LANE}/release", "POST", body=c.ReleaseIn, response=c.OpsOut, errors=[404, 409], auth=STAFF, roles=HANDS
)
def release(request: Any, lot_id: str, lane_id: str, *, me: Principal, body: c.ReleaseIn) -> Response:
    """Abnormal release (异常放行) of the car at this exit, with the cash taken or waived."""
    return _done(
        ops.release(
            _staff(me),
            lot_id,
            lane_id,
            visit_id=body.visit_id,
            plate=body.plate,
            amount_fen=body.amount_fen,
            reason=body.reason,
            now=now(),
            as_arrears=body.as_arrears,
        )
    )


@routes.route(
    f"{LANE}/open", "POST", body=c.OpenIn, response=c.OpsOut, errors=[404, 409], auth=STAFF, roles=HANDS
)
def open_barrier(request: Any, lot_id: str, lane_id: str, *, me: Principal, body: c.OpenIn) -> Response:
    """Remote open (远程开闸) of a lane's barrier: a non-system opening."""
    return _done(
        ops.open_lane(
            _staff(me),
            lot_id,
            lane_id,
            reason=body.reason,
            visit_id=body.visit_id,
            plate=body.plate,
            amount_fen=body.amount_fen,
            now=now(),
        )
    )


@routes.route(
    f"{LANE}/match", "POST", body=c.MatchIn, response=c.OpsOut, errors=[404, 409], auth=STAFF, roles=HANDS
)
def match(request: Any, lot_id: str, lane_id: str, *, me: Principal, body: c.MatchIn) -> Response:
    """Manual match of the car at this exit to an open visit; the gate decides as if it was read."""
    return _done(ops.match(_staff(me), lot_id, lane_id, body.visit_id, body.read_plate, body.reason, now()))


@routes.route(
    f"{LANE}/corrections",
    "POST",
    body=c.CorrectionIn,
    response=c.OpsOut,
    errors=[404, 409],
    auth=STAFF,
    roles=HANDS,
)
def correct(request: Any, lot_id: str, lane_id: str, *, me: Principal, body: c.CorrectionIn) -> Response:
    """Plate correction (校正) at an entry or an exit lane."""
    return _done(ops.correct(_staff(me), lot_id, lane_id, body.read_plate, body.plate, body.reason, now()))


@routes.route(
    f"{VISIT}/cash",
    "POST",
    body=c.CashIn,
    response=c.CashOut,
    errors=[404, 409],
    auth=STAFF,
    roles=(CASHIER,),
)
def cash(request: Any, lot_id: str, visit_id: str, *, me: Principal, body: c.CashIn) -> Response:
    """Cash taken at the booth in the cashier's open shift (docs/booth.md); a car waiting at an exit
    with nothing left to pay is let out."""
    done = ops.take_cash(
        _staff(me),
        lot_id,
        visit_id,
        now(),
        amount_fen=body.amount_fen,
        tendered_fen=body.tendered_fen,
        confirmed=body.confirmed,
    )
    assert done.cash is not None
    return ok(
        {
            **_done_body(done),
            "shift_id": done.shift_id,
            "tendered_fen": done.cash.tendered_fen,
            "amount_fen": done.cash.kept_fen,
            "change_fen": done.cash.change_fen,
        }
    )


@routes.route(
    f"{VISIT}/close", "POST", body=c.CloseIn, response=c.OpsOut, errors=[404, 409], auth=STAFF, roles=HANDS
)
def close(request: Any, lot_id: str, visit_id: str, *, me: Principal, body: c.CloseIn) -> Response:
    """Close a stale visit (a car that left without a capture), with a reason."""
    return _done(ops.close_stale(_staff(me), lot_id, visit_id, body.reason, now()))


@routes.route("/v1/ops/lots/{lot_id}/occupancy", "GET", response=c.OccupancyOut, errors=[404], auth=STAFF)
def lot_occupancy(request: Any, lot_id: str, *, me: Principal) -> Response:
    lots.own(me.operator, lot_id)
    return ok(occupancy.view(lot_id))


@routes.route(
    "/v1/ops/lots/{lot_id}/records",
    "GET",
    query=c.RecordsQuery,
    response=c.RecordsOut,
    errors=[404],
    auth=STAFF,
)
def lot_records(request: Any, lot_id: str, *, me: Principal, query: c.RecordsQuery) -> Response:
    """Every record of a lot by type, time and plate, paged; `format=csv` exports it."""
    lots.own(me.operator, lot_id)
    lot = config.lot(lot_id)
    if lot is None:
        raise Invalid("the lot has no configuration", "lot_not_configured")
    since, until = query.since, query.until
    if query.day is not None:
        since, until = records.day_bounds(query.day, lot.zone)
    if since is not None and until is not None and since > until:
        raise Invalid("from must not be after to", "invalid_time")
    wanted = records.Filter(
        query.type or None, plates.normalize(query.plate) if query.plate else None, since, until
    )
    if query.format == "csv":
        body = records.as_csv(records.everything(lot_id, wanted), lot.zone)
        name = f"{lot_id}-{query.type or 'records'}-{query.day.isoformat() if query.day else 'export'}"
        return Response(
            body=body,
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}.csv"',
            },
        )
    if query.format != "json":
        raise Invalid("format must be json or csv", "invalid_format")
    rows, cursor = records.query(lot_id, wanted, query.cursor, query.limit)
    return ok({"lot_id": lot_id, "type": query.type, "records": rows, "next_cursor": cursor})
