"""Charging routes: drivers start by QR id, follow, stop and read their bills; staff manage the
registry and tariffs, send device commands, force-end sessions and follow abnormal bills."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.charging import contract as c
from chalicelib.charging import ocpp, ocpp_calls
from chalicelib.charging import registry as charging_registry
from chalicelib.charging import sessions as charging
from chalicelib.charging.models import ChargingSession, Station
from chalicelib.platform import audit, commands
from chalicelib.shared.auth import DRIVER, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid, NotFound
from chalicelib.shared.http import Routes, ok
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
        "refund_requested_fen": int(s.refund_requested_fen or 0),
        "refundable_fen": charging.refundable_now(s),
        "stop_pending": bool(s.stop_pending),
        "reading_notes": s.reading_notes or [],
        "bill": s.bill,
    }


# --- drivers ---------------------------------------------------------------------------------


@routes.route(
    "/v1/driver/charging/sessions",
    "POST",
    body=c.StartIn,
    response=c.SessionOut,
    status=201,
    errors=[404, 409, 422],
    auth=DRIVER,
)
def start_session(request: Any, *, me: Principal, body: c.StartIn) -> Response:
    session = charging.start(me.user_id, body, now())
    return ok(session_view(session), status=201)


@routes.route("/v1/driver/charging/sessions", "GET", response=c.SessionsOut, auth=DRIVER)
def my_sessions(request: Any, *, me: Principal) -> Response:
    return ok({"sessions": [session_view(s) for s in charging.history(me.user_id)]})


@routes.route(
    "/v1/driver/charging/sessions/{session_id}", "GET", response=c.SessionOut, errors=[404], auth=DRIVER
)
def my_session(request: Any, session_id: str, *, me: Principal) -> Response:
    return ok(session_view(charging.get_own(me.user_id, session_id)))


@routes.route(
    "/v1/driver/charging/sessions/{session_id}/stop",
    "POST",
    response=c.SessionOut,
    errors=[404, 409],
    auth=DRIVER,
)
def stop_session(request: Any, session_id: str, *, me: Principal) -> Response:
    return ok(session_view(charging.stop(me.user_id, session_id, now())))


@routes.route(
    "/v1/driver/charging/sessions/{session_id}/bill", "GET", response=c.BillOut, errors=[404], auth=DRIVER
)
def my_bill(request: Any, session_id: str, *, me: Principal) -> Response:
    session = charging.get_own(me.user_id, session_id)
    if session.bill is None:
        raise NotFound("the session is not settled yet", "not_settled")
    return ok({"session_id": session.session_id, "state": session.state, **session.bill})


# --- staff -----------------------------------------------------------------------------------


@routes.route("/v1/ops/stations", "GET", response=c.StationsOut, auth=STAFF)
def list_stations(request: Any, *, me: Principal) -> Response:
    return ok({"stations": [registry_station(s) for s in charging_registry.stations_of(me.operator)]})


@routes.route(
    "/v1/ops/stations",
    "POST",
    body=c.StationIn,
    response=c.StationOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
)
def create_station(request: Any, *, me: Principal, body: c.StationIn) -> Response:
    station = charging_registry.create_station(me.operator, me.user_id, body, now())
    return ok(registry_station(station), status=201)


@routes.route("/v1/ops/stations/{station_id}", "GET", response=c.StationDetailOut, errors=[404], auth=STAFF)
def get_station(request: Any, station_id: str, *, me: Principal) -> Response:
    station = charging_registry.own_station(me.operator, station_id)
    return ok({**registry_station(station), "chargers": charging_registry.chargers_of(station.station_id)})


@routes.route(
    "/v1/ops/stations/{station_id}/tariff",
    "PUT",
    body=c.StationTariffIn,
    response=c.StationOut,
    errors=[404],
    auth=STAFF,
)
def assign_station_tariff(
    request: Any, station_id: str, *, me: Principal, body: c.StationTariffIn
) -> Response:
    station = charging_registry.own_station(me.operator, station_id)
    charging_registry.assign_tariff(me.operator, me.user_id, station, body.tariff_id, now())
    return ok(registry_station(charging_registry.own_station(me.operator, station_id)))


@routes.route(
    "/v1/ops/chargers",
    "POST",
    body=c.ChargerIn,
    response=c.CreatedChargerOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
)
def create_charger(request: Any, *, me: Principal, body: c.ChargerIn) -> Response:
    charging_registry.own_station(me.operator, body.station_id)
    return ok(charging_registry.create_charger(me.operator, me.user_id, body, now()), status=201)


@routes.route(
    "/v1/ops/chargers/{charger_id}/commands",
    "POST",
    body=c.CommandIn,
    response=c.CommandSentOut,
    status=202,
    errors=[404, 409],
    auth=STAFF,
)
def send_command(request: Any, charger_id: str, *, me: Principal, body: c.CommandIn) -> Response:
    charger = charging_registry.own_charger(me.operator, charger_id)
    try:
        ocpp.validate_outgoing(body.action, body.payload)
    except ocpp.FrameError as exc:
        raise Invalid(f"payload is not a valid {body.action}: {exc.description}", "invalid_payload") from exc
    at = now()
    command = ocpp_calls.send(
        charger.charger_id,
        body.action,
        body.payload,
        at,
        also=lambda tx: audit.add(
            tx,
            me.user_id,
            me.operator,
            "device",
            charger.charger_id,
            "command",
            None,
            {"action": body.action, "payload": body.payload},
            None,
            at,
        ),
    )
    return ok(
        {"message_id": command.correlation_id, "action": body.action, "status": command.status}, status=202
    )


@routes.route(
    "/v1/ops/chargers/{charger_id}/commands", "GET", response=c.CommandsOut, errors=[404], auth=STAFF
)
def list_commands(request: Any, charger_id: str, *, me: Principal) -> Response:
    charging_registry.own_charger(me.operator, charger_id)
    return ok(
        {
            "charger_id": charger_id,
            "commands": [
                {
                    "message_id": cmd.correlation_id,
                    "action": cmd.command,
                    "status": cmd.status,
                    "sent_at": iso(cmd.sent_at),
                    "finished_at": iso(cmd.finished_at) if cmd.finished_at else None,
                    "detail": cmd.detail,
                }
                for cmd in commands.recent(charger_id)
            ],
        }
    )


@routes.route(
    "/v1/ops/charging/sessions/{session_id}/force-end",
    "POST",
    response=c.SessionOut,
    errors=[404, 409],
    auth=STAFF,
)
def force_end(request: Any, session_id: str, *, me: Principal) -> Response:
    return ok(session_view(charging.force_end(me.operator, session_id, now(), who=me.user_id)))


@routes.route("/v1/ops/charging/abnormal", "GET", response=c.SessionsOut, auth=STAFF)
def abnormal(request: Any, *, me: Principal) -> Response:
    return ok({"sessions": [session_view(s) for s in charging.abnormal_bills(me.operator)]})


@routes.route(
    "/v1/ops/charging-tariffs",
    "POST",
    body=c.ChargingTariffIn,
    response=c.ChargingTariffOut,
    status=201,
    auth=STAFF,
)
def create_charging_tariff(request: Any, *, me: Principal, body: c.ChargingTariffIn) -> Response:
    item = charging_registry.create_tariff(me.operator, me.user_id, body, now(), None)
    return ok(charging_registry.tariff_view(item), status=201)


@routes.route(
    "/v1/ops/charging-tariffs/{tariff_id}",
    "PUT",
    body=c.ChargingTariffIn,
    response=c.ChargingTariffOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
)
def update_charging_tariff(
    request: Any, tariff_id: str, *, me: Principal, body: c.ChargingTariffIn
) -> Response:
    item = charging_registry.create_tariff(me.operator, me.user_id, body, now(), tariff_id)
    return ok(charging_registry.tariff_view(item), status=201)


@routes.route(
    "/v1/ops/charging-tariffs/preview",
    "POST",
    body=c.ChargingPreviewIn,
    response=c.ChargingPreviewOut,
    auth=STAFF,
)
def preview_charging_tariff(request: Any, *, me: Principal, body: c.ChargingPreviewIn) -> Response:
    return ok(charging_registry.preview(body))


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
