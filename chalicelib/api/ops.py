"""Staff routes, scoped to the caller's operator. Another operator's lot answers 404."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.auth import Principal, require_staff
from chalicelib.api.http import json_body, now, ok, query_param
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models.lots import Lot
from chalicelib.models.tariffs import TariffVersion

bp = Blueprint(__name__)


def _own_lot(me: Principal, lot_id: str) -> Lot:

    try:
        lot = Lot.get(lot_id)
    except Lot.DoesNotExist:
        lot = None
    if lot is None or lot.operator_id != me.operator_id:
        raise NotFound("no such lot", "lot_not_found")
    return lot


@bp.route("/v1/ops/lots", methods=["GET"])
def list_lots() -> Response:
    from chalicelib.models.lots import Lot

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    lots = Lot.by_operator.query(me.operator_id)
    return ok({"lots": [{"lot_id": lot.lot_id, "name": lot.name, "timezone": lot.timezone} for lot in lots]})


@bp.route("/v1/ops/lots/{lot_id}", methods=["GET"])
def get_lot(lot_id: str) -> Response:
    from chalicelib.models.lots import Lane

    me = require_staff(bp.current_request.headers)
    lot = _own_lot(me, lot_id)
    lanes = [
        {
            "lane_id": lane.lane_id,
            "name": lane.name,
            "direction": lane.direction,
            "gate_id": lane.gate_id,
            "device_ids": list(lane.device_ids or []),
        }
        for lane in Lane.query(lot_id)
    ]
    return ok(
        {
            "lot_id": lot.lot_id,
            "name": lot.name,
            "operator_id": lot.operator_id,
            "timezone": lot.timezone,
            "capacity": int(lot.capacity),
            "grace_minutes": int(lot.grace_minutes),
            "tariff_plan": lot.tariff_plan,
            "holidays": list(lot.holidays or []),
            "lanes": lanes,
        }
    )


@bp.route("/v1/ops/lots/{lot_id}/visits", methods=["GET"])
def lot_visits(lot_id: str) -> Response:
    from chalicelib.models.visits import Visit
    from chalicelib.services import views

    me = require_staff(bp.current_request.headers)
    _own_lot(me, lot_id)
    status = query_param(bp.current_request, "status", "inside")
    if status != "inside":
        raise BadRequest(
            "status must be 'inside' (exited visits are listed by the records export)", "invalid_status"
        )
    visits = Visit.inside_by_lot.query(lot_id, scan_index_forward=False, limit=500)
    return ok({"lot_id": lot_id, "visits": [views.visit(v) for v in visits]})


@bp.route("/v1/ops/lots/{lot_id}/records", methods=["GET"])
def lot_records(lot_id: str) -> Response:
    from chalicelib.domain.timeutil import iso
    from chalicelib.models.records import TYPES, Record

    me = require_staff(bp.current_request.headers)
    _own_lot(me, lot_id)
    record_type = query_param(bp.current_request, "type")
    if record_type not in TYPES:
        raise BadRequest(f"type must be one of {', '.join(TYPES)}", "invalid_type")
    items = Record.query(
        lot_id, Record.record_key.startswith(f"{record_type}#"), scan_index_forward=False, limit=500
    )
    return ok(
        {
            "lot_id": lot_id,
            "type": record_type,
            "records": [
                {
                    "type": r.type,
                    "plate": r.plate,
                    "visit_id": r.visit_id,
                    "detail": r.detail,
                    "created_at": iso(r.created_at),
                }
                for r in items
            ],
        }
    )


@bp.route("/v1/ops/lots/{lot_id}/payments", methods=["GET"])
def lot_payments(lot_id: str) -> Response:
    from chalicelib.models.payments import Payment
    from chalicelib.services import views

    me = require_staff(bp.current_request.headers)
    _own_lot(me, lot_id)
    items = Payment.by_lot.query(lot_id, scan_index_forward=False, limit=500)
    return ok({"lot_id": lot_id, "payments": [views.payment(p) for p in items]})


@bp.route("/v1/ops/devices/{device_id}/commands", methods=["GET"])
def device_commands(device_id: str) -> Response:
    from chalicelib.domain.timeutil import iso
    from chalicelib.models.commands import Command
    from chalicelib.models.devices import Device

    me = require_staff(bp.current_request.headers)
    try:
        device = Device.get(device_id)
    except Device.DoesNotExist:
        device = None
    if device is None or device.operator_id != me.operator_id:
        raise NotFound("no such device", "device_not_found")
    items = Command.query(device_id, scan_index_forward=False, limit=100)
    return ok(
        {
            "device_id": device_id,
            "commands": [
                {
                    "correlation_id": c.correlation_id,
                    "command": c.command,
                    "status": c.status,
                    "sent_at": iso(c.sent_at),
                    "finished_at": iso(c.finished_at) if c.finished_at else None,
                    "detail": c.detail,
                }
                for c in items
            ],
        }
    )


def _tariff_view(item: TariffVersion) -> dict[str, Any]:
    from chalicelib.domain.timeutil import iso

    return {
        "tariff_id": item.tariff_id,
        "version": int(item.version),
        "name": item.name,
        "definition": item.definition,
        "created_at": iso(item.created_at),
        "created_by": item.created_by,
    }


@bp.route("/v1/ops/tariffs", methods=["GET"])
def list_tariffs() -> Response:
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    return ok({"tariffs": [_tariff_view(t) for t in tariffs.of_operator(me.operator_id)]})


@bp.route("/v1/ops/tariffs", methods=["POST"])
def create_tariff() -> Response:
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    body = json_body(bp.current_request)
    item = tariffs.create(me.operator_id, me.user_id, body.get("name"), body.get("definition"), now())
    return ok(_tariff_view(item), status=201)


@bp.route("/v1/ops/tariffs/preview", methods=["POST"])
def preview_tariff() -> Response:
    from chalicelib.domain.timeutil import iso
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    result, used = tariffs.preview(me.operator_id, json_body(bp.current_request), now())
    return ok(
        {
            "total_fen": result.total_fen,
            "stay_minutes": result.stay_minutes,
            "breakdown": result.breakdown(),
            "tariff": {k: v for k, v in used.items() if k not in ("entered_at", "exited_at")},
            "entered_at": iso(used["entered_at"]),
            "exited_at": iso(used["exited_at"]),
        }
    )


@bp.route("/v1/ops/tariffs/{tariff_id}", methods=["GET"])
def get_tariff(tariff_id: str) -> Response:
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    raw = query_param(bp.current_request, "version")
    if raw and not raw.isdigit():
        raise BadRequest("version must be a whole number", "invalid_version")
    return ok(_tariff_view(tariffs.get(me.operator_id, tariff_id, int(raw) if raw else None)))


@bp.route("/v1/ops/tariffs/{tariff_id}", methods=["PUT"])
def update_tariff(tariff_id: str) -> Response:
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    body = json_body(bp.current_request)
    name, definition = body.get("name"), body.get("definition")
    item = tariffs.new_version(me.operator_id, me.user_id, tariff_id, name, definition, now())
    return ok(_tariff_view(item), status=201)


@bp.route("/v1/ops/lots/{lot_id}/tariff-plan", methods=["PUT"])
def assign_tariffs(lot_id: str) -> Response:
    from chalicelib.services import tariffs

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    lot = tariffs.assign(me.operator_id, _own_lot(me, lot_id), json_body(bp.current_request), now())
    return ok(
        {
            "lot_id": lot.lot_id,
            "tariff_plan": lot.tariff_plan,
            "holidays": list(lot.holidays or []),
            "grace_minutes": int(lot.grace_minutes),
        }
    )
