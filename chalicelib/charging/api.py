"""Charging routes: drivers start by QR id, follow, stop and read their bills; staff manage the
registry and tariffs, send device commands, force-end sessions and follow abnormal bills."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.charging import ocpp, ocpp_calls
from chalicelib.charging import registry as charging_registry
from chalicelib.charging import sessions as charging
from chalicelib.charging.models import ChargingSession, Station
from chalicelib.platform import commands
from chalicelib.shared.auth import require_driver, require_staff
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid, NotFound
from chalicelib.shared.http import Routes, json_body, ok
from chalicelib.shared.timeutil import iso

routes = Routes()


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


@routes.route("/v1/driver/charging/sessions", "POST")
def start_session(request: Any) -> Response:

    me = require_driver(request.headers)
    body = json_body(request)
    session = charging.start(me.user_id, body.get("qr_id"), body.get("prepay_fen"), body.get("plate"), now())
    return ok(session_view(session), status=201)


@routes.route("/v1/driver/charging/sessions", "GET")
def my_sessions(request: Any) -> Response:

    me = require_driver(request.headers)
    return ok({"sessions": [session_view(s) for s in charging.history(me.user_id)]})


@routes.route("/v1/driver/charging/sessions/{session_id}", "GET")
def my_session(request: Any, session_id: str) -> Response:

    me = require_driver(request.headers)
    return ok(session_view(charging.get_own(me.user_id, session_id)))


@routes.route("/v1/driver/charging/sessions/{session_id}/stop", "POST")
def stop_session(request: Any, session_id: str) -> Response:

    me = require_driver(request.headers)
    return ok(session_view(charging.stop(me.user_id, session_id, now())))


@routes.route("/v1/driver/charging/sessions/{session_id}/bill", "GET")
def my_bill(request: Any, session_id: str) -> Response:

    me = require_driver(request.headers)
    session = charging.get_own(me.user_id, session_id)
    if session.bill is None:
        raise NotFound("the session is not settled yet", "not_settled")
    return ok({"session_id": session.session_id, "state": session.state, **session.bill})


@routes.route("/v1/driver/charging/sessions/{session_id}/refunds", "POST")
def ask_refund(request: Any, session_id: str) -> Response:

    me = require_driver(request.headers)
    body = json_body(request)
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


# --- staff -----------------------------------------------------------------------------------


@routes.route("/v1/ops/stations", "GET")
def list_stations(request: Any) -> Response:
    me = require_staff(request.headers)
    return ok({"stations": [registry_station(s) for s in charging_registry.stations_of(me.operator)]})


@routes.route("/v1/ops/stations", "POST")
def create_station(request: Any) -> Response:

    me = require_staff(request.headers)
    station = charging_registry.create_station(me.operator, json_body(request), now())
    return ok(registry_station(station), status=201)


@routes.route("/v1/ops/stations/{station_id}", "GET")
def get_station(request: Any, station_id: str) -> Response:

    me = require_staff(request.headers)
    station = charging_registry.own_station(me.operator, station_id)
    return ok({**registry_station(station), "chargers": charging_registry.chargers_of(station.station_id)})


@routes.route("/v1/ops/stations/{station_id}/tariff", "PUT")
def assign_station_tariff(request: Any, station_id: str) -> Response:

    me = require_staff(request.headers)
    station = charging_registry.own_station(me.operator, station_id)
    body = json_body(request)
    charging_registry.assign_tariff(me.operator, station, body.get("tariff_id"))
    return ok(registry_station(charging_registry.own_station(me.operator, station_id)))


@routes.route("/v1/ops/chargers", "POST")
def create_charger(request: Any) -> Response:

    me = require_staff(request.headers)
    body = json_body(request)
    if not isinstance(body.get("station_id"), str):
        raise Invalid("station_id is required", "invalid_station")
    charging_registry.own_station(me.operator, body["station_id"])
    return ok(charging_registry.create_charger(me.operator, body), status=201)


@routes.route("/v1/ops/chargers/{charger_id}/commands", "POST")
def send_command(request: Any, charger_id: str) -> Response:

    me = require_staff(request.headers)
    charger = charging_registry.own_charger(me.operator, charger_id)
    body = json_body(request)
    action = body.get("action")
    if action not in ocpp_calls.STAFF_ACTIONS:
        raise Invalid(f"action must be one of {', '.join(ocpp_calls.STAFF_ACTIONS)}", "invalid_action")
    payload = body.get("payload", {})
    if not isinstance(payload, dict):
        raise Invalid("payload must be an object", "invalid_payload")

    try:
        ocpp.validate_outgoing(str(action), payload)
    except ocpp.FrameError as exc:
        raise Invalid(f"payload is not a valid {action}: {exc.description}", "invalid_payload") from exc
    command = ocpp_calls.send(charger.charger_id, str(action), payload, now())
    return ok({"message_id": command.correlation_id, "action": action, "status": command.status}, status=202)


@routes.route("/v1/ops/chargers/{charger_id}/commands", "GET")
def list_commands(request: Any, charger_id: str) -> Response:

    me = require_staff(request.headers)
    charging_registry.own_charger(me.operator, charger_id)
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
                for c in commands.recent(charger_id)
            ],
        }
    )


@routes.route("/v1/ops/charging/sessions/{session_id}/force-end", "POST")
def force_end(request: Any, session_id: str) -> Response:

    me = require_staff(request.headers)
    return ok(session_view(charging.force_end(me.operator, session_id, now())))


@routes.route("/v1/ops/charging/abnormal", "GET")
def abnormal(request: Any) -> Response:

    me = require_staff(request.headers)
    return ok({"sessions": [session_view(s) for s in charging.abnormal_bills(me.operator)]})


@routes.route("/v1/ops/charging-tariffs", "POST")
def create_charging_tariff(request: Any) -> Response:

    me = require_staff(request.headers)
    body = json_body(request)
    item = charging_registry.create_tariff(me.operator, me.user_id, body, now(), None)
    return ok(charging_registry.tariff_view(item), status=201)


@routes.route("/v1/ops/charging-tariffs/{tariff_id}", "PUT")
def update_charging_tariff(request: Any, tariff_id: str) -> Response:

    me = require_staff(request.headers)
    body = json_body(request)
    item = charging_registry.create_tariff(me.operator, me.user_id, body, now(), tariff_id)
    return ok(charging_registry.tariff_view(item), status=201)


@routes.route("/v1/ops/charging-tariffs/preview", "POST")
def preview_charging_tariff(request: Any) -> Response:

    require_staff(request.headers)
    return ok(charging_registry.preview(json_body(request)))


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
