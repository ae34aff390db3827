"""Charging routes: drivers start by QR id, follow, stop and read their bills; staff manage the
registry and tariffs, send device commands, force-end sessions and follow abnormal bills."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint, Response

from chalicelib.api.auth import Principal, require_driver, require_staff
from chalicelib.api.http import json_body, now, ok
from chalicelib.domain.timeutil import iso
from chalicelib.errors import BadRequest, NotFound
from chalicelib.models.charging import Charger, ChargingSession, Station

bp = Blueprint(__name__)


def session_view(s: ChargingSession) -> dict[str, Any]:
    prepaid = int(s.prepaid_fen)
    return {
        "session_id": s.session_id,
        "state": s.state,
        "station_id": s.station_id,
        "charger_id": s.charger_id,
        "connector_id": int(s.connector_id),
        "plate": s.plate,
        "transaction_id": int(s.transaction_id) if s.transaction_id is not None else None,
        "tariff": s.tariff_ref,
        "prepaid_fen": prepaid,
        "energy_wh": int(s.energy_wh),
        "cost_fen": int(s.cost_fen),
        "remaining_fen": prepaid - int(s.cost_fen),
        "created_at": iso(s.created_at),
        "started_at": iso(s.started_at) if s.started_at else None,
        "ended_at": iso(s.ended_at) if s.ended_at else None,
        "end_reason": s.end_reason,
        "abnormal_reason": s.abnormal_reason,
        "refunded_fen": int(s.refunded_fen),
        "bill": s.bill,
    }


# --- drivers ---------------------------------------------------------------------------------


@bp.route("/v1/driver/charging/sessions", methods=["POST"])
def start_session() -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    body = json_body(bp.current_request)
    session = charging.start(me.user_id, body.get("qr_id"), body.get("prepay_fen"), body.get("plate"), now())
    return ok(session_view(session), status=201)


@bp.route("/v1/driver/charging/sessions", methods=["GET"])
def my_sessions() -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    return ok({"sessions": [session_view(s) for s in charging.history(me.user_id)]})


@bp.route("/v1/driver/charging/sessions/{session_id}", methods=["GET"])
def my_session(session_id: str) -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    return ok(session_view(charging.get_own(me.user_id, session_id)))


@bp.route("/v1/driver/charging/sessions/{session_id}/stop", methods=["POST"])
def stop_session(session_id: str) -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    return ok(session_view(charging.stop(me.user_id, session_id, now())))


@bp.route("/v1/driver/charging/sessions/{session_id}/bill", methods=["GET"])
def my_bill(session_id: str) -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    session = charging.get_own(me.user_id, session_id)
    if session.bill is None:
        raise NotFound("the session is not settled yet", "not_settled")
    return ok({"session_id": session.session_id, "state": session.state, **session.bill})


@bp.route("/v1/driver/charging/sessions/{session_id}/refunds", methods=["POST"])
def ask_refund(session_id: str) -> Response:
    from chalicelib.services import charging

    me = require_driver(bp.current_request.headers)
    body = json_body(bp.current_request)
    check = charging.check_refund(me.user_id, session_id, body.get("amount_fen"))
    return ok(
        {
            "session_id": session_id,
            "status": "requested",
            "amount_fen": body["amount_fen"],
            "refundable_fen": check.refundable_fen,
        },
        status=202,
    )


@bp.route("/v1/driver/wallet", methods=["GET"])
def my_wallet() -> Response:
    from chalicelib.models.charging import Wallet

    me = require_driver(bp.current_request.headers)
    try:
        wallet = Wallet.get(me.user_id, consistent_read=True)
        return ok({"balance_fen": int(wallet.balance_fen), "status": wallet.status})
    except Wallet.DoesNotExist:
        return ok({"balance_fen": 0, "status": "active"})


# --- staff -----------------------------------------------------------------------------------


def _own_station(me: Principal, station_id: str) -> Station:
    try:
        station = Station.get(station_id)
    except Station.DoesNotExist:
        station = None
    if station is None or station.operator_id != me.operator_id:
        raise NotFound("no such station", "station_not_found")
    return station


def _own_charger(me: Principal, charger_id: str) -> Charger:
    try:
        charger = Charger.get(charger_id)
    except Charger.DoesNotExist:
        charger = None
    if charger is None or charger.operator_id != me.operator_id:
        raise NotFound("no such charger", "charger_not_found")
    return charger


@bp.route("/v1/ops/stations", methods=["GET"])
def list_stations() -> Response:
    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    return ok({"stations": [registry_station(s) for s in Station.by_operator.query(me.operator_id)]})


@bp.route("/v1/ops/stations", methods=["POST"])
def create_station() -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    station = charging_registry.create_station(me.operator_id, json_body(bp.current_request))
    return ok(registry_station(station), status=201)


@bp.route("/v1/ops/stations/{station_id}", methods=["GET"])
def get_station(station_id: str) -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    station = _own_station(me, station_id)
    return ok({**registry_station(station), "chargers": charging_registry.chargers_of(station.station_id)})


@bp.route("/v1/ops/stations/{station_id}/tariff", methods=["PUT"])
def assign_station_tariff(station_id: str) -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    station = _own_station(me, station_id)
    body = json_body(bp.current_request)
    charging_registry.assign_tariff(me.operator_id, station, body.get("tariff_id"))
    return ok(registry_station(Station.get(station_id)))


@bp.route("/v1/ops/chargers", methods=["POST"])
def create_charger() -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    body = json_body(bp.current_request)
    if not isinstance(body.get("station_id"), str):
        raise BadRequest("station_id is required", "invalid_station")
    _own_station(me, body["station_id"])
    return ok(charging_registry.create_charger(me.operator_id, body), status=201)


@bp.route("/v1/ops/chargers/{charger_id}/commands", methods=["POST"])
def send_command(charger_id: str) -> Response:
    from chalicelib.services import ocpp_calls

    me = require_staff(bp.current_request.headers)
    charger = _own_charger(me, charger_id)
    body = json_body(bp.current_request)
    action = body.get("action")
    if action not in ocpp_calls.STAFF_ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(ocpp_calls.STAFF_ACTIONS)}", "invalid_action")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise BadRequest("payload must be an object", "invalid_payload")
    from chalicelib.devices import ocpp

    try:
        ocpp.validate_outgoing(str(action), payload)
    except ocpp.FrameError as exc:
        raise BadRequest(f"payload is not a valid {action}: {exc.description}", "invalid_payload") from exc
    command = ocpp_calls.send(charger, str(action), payload, now())
    return ok({"message_id": command.correlation_id, "action": action, "status": command.status}, status=202)


@bp.route("/v1/ops/chargers/{charger_id}/commands", methods=["GET"])
def list_commands(charger_id: str) -> Response:
    from chalicelib.models.commands import Command

    me = require_staff(bp.current_request.headers)
    _own_charger(me, charger_id)
    return ok(
        {
            "charger_id": charger_id,
            "commands": [
                {
                    "message_id": c.correlation_id,
                    "action": c.command,
                    "status": c.status,
                    "sent_at": iso(c.sent_at),
                    "finished_at": iso(c.finished_at) if c.finished_at else None,
                    "detail": c.detail,
                }
                for c in Command.query(charger_id, scan_index_forward=False, limit=100)
            ],
        }
    )


@bp.route("/v1/ops/charging/sessions/{session_id}/force-end", methods=["POST"])
def force_end(session_id: str) -> Response:
    from chalicelib.services import charging

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    return ok(session_view(charging.force_end(me.operator_id, session_id, now())))


@bp.route("/v1/ops/charging/abnormal", methods=["GET"])
def abnormal() -> Response:
    from chalicelib.services import charging

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    return ok({"sessions": [session_view(s) for s in charging.abnormal_bills(me.operator_id)]})


@bp.route("/v1/ops/charging-tariffs", methods=["POST"])
def create_charging_tariff() -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    body = json_body(bp.current_request)
    item = charging_registry.create_tariff(me.operator_id, me.user_id, body, now(), None)
    return ok(charging_registry.tariff_view(item), status=201)


@bp.route("/v1/ops/charging-tariffs/{tariff_id}", methods=["PUT"])
def update_charging_tariff(tariff_id: str) -> Response:
    from chalicelib.services import charging_registry

    me = require_staff(bp.current_request.headers)
    assert me.operator_id is not None
    body = json_body(bp.current_request)
    item = charging_registry.create_tariff(me.operator_id, me.user_id, body, now(), tariff_id)
    return ok(charging_registry.tariff_view(item), status=201)


@bp.route("/v1/ops/charging-tariffs/preview", methods=["POST"])
def preview_charging_tariff() -> Response:
    from chalicelib.services import charging_registry

    require_staff(bp.current_request.headers)
    return ok(charging_registry.preview(json_body(bp.current_request)))


def registry_station(s: Station) -> dict[str, Any]:
    return {
        "station_id": s.station_id,
        "name": s.name,
        "timezone": s.timezone,
        "areas": s.areas,
        "tariff_id": s.tariff_id,
        "min_balance_fen": int(s.min_balance_fen),
        "parking_waiver": s.parking_waiver,
    }
