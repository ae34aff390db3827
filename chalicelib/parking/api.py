"""Parking's HTTP edge. Drivers: their plates, visits, fee quotes. Staff (scoped to their
operator; another operator's lot answers 404): lots, cars inside, records, tariffs and the
lot's tariff plan. Each route parses, authorizes and calls one use case."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import lots, plates, quotes, tariffs, views
from chalicelib.parking.models import TariffVersion
from chalicelib.shared.auth import require_driver, require_staff
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid
from chalicelib.shared.http import Routes, json_body, ok, query_param
from chalicelib.shared.timeutil import iso

routes = Routes()

# --- drivers ---------------------------------------------------------------------------------


@routes.route("/v1/driver/plates", "GET")
def list_plates(request: Any) -> Response:
    me = require_driver(request.headers)
    return ok(
        {"plates": [{"plate": b.plate, "bound_at": iso(b.bound_at)} for b in plates.of_user(me.user_id)]}
    )


@routes.route("/v1/driver/plates", "POST")
def bind_plate(request: Any) -> Response:
    me = require_driver(request.headers)
    plate = plates.clean(json_body(request).get("plate"))
    binding = plates.bind(me.user_id, plate, now())
    return ok({"plate": binding.plate, "bound_at": iso(binding.bound_at)}, status=201)


@routes.route("/v1/driver/visits", "GET")
def my_visits(request: Any) -> Response:
    me = require_driver(request.headers)
    plate = plates.clean(query_param(request, "plate"))
    visits = lots.visits_of_plate(me.user_id, plate)
    return ok({"plate": plate, "visits": [views.visit(v) for v in visits]})


@routes.route("/v1/driver/quotes", "POST")
def create_quote(request: Any) -> Response:
    me = require_driver(request.headers)
    body = json_body(request)
    plate = plates.clean(body.get("plate"))
    lot_id = body.get("lot_id")
    quote = quotes.create(me.user_id, plate, lot_id if isinstance(lot_id, str) and lot_id else None, now())
    return ok(views.quote(quote), status=201)


@routes.route("/v1/driver/quotes/{quote_id}", "GET")
def get_quote(request: Any, quote_id: str) -> Response:
    me = require_driver(request.headers)
    return ok(views.quote(quotes.get_own(me.user_id, quote_id)))


# --- staff -----------------------------------------------------------------------------------


@routes.route("/v1/ops/lots", "GET")
def list_lots(request: Any) -> Response:
    me = require_staff(request.headers)
    return ok(
        {
            "lots": [
                {"lot_id": lot.lot_id, "name": lot.name, "timezone": lot.timezone}
                for lot in lots.of_operator(me.operator)
            ]
        }
    )


@routes.route("/v1/ops/lots/{lot_id}", "GET")
def get_lot(request: Any, lot_id: str) -> Response:
    me = require_staff(request.headers)
    lot = lots.own(me.operator, lot_id)
    return ok({**views.lot(lot), "lanes": [views.lane(lane) for lane in lots.lanes(lot_id)]})


@routes.route("/v1/ops/lots/{lot_id}/visits", "GET")
def lot_visits(request: Any, lot_id: str) -> Response:
    me = require_staff(request.headers)
    status = query_param(request, "status", "inside")
    visits = lots.visits_inside(me.operator, lot_id, status)
    return ok({"lot_id": lot_id, "visits": [views.visit(v) for v in visits]})


@routes.route("/v1/ops/lots/{lot_id}/records", "GET")
def lot_records(request: Any, lot_id: str) -> Response:
    me = require_staff(request.headers)
    record_type = query_param(request, "type")
    items = lots.records(me.operator, lot_id, record_type)
    return ok({"lot_id": lot_id, "type": record_type, "records": [views.record(r) for r in items]})


def _tariff_view(item: TariffVersion) -> dict[str, Any]:
    return {
        "tariff_id": item.tariff_id,
        "version": int(item.version),
        "name": item.name,
        "definition": item.definition,
        "created_at": iso(item.created_at),
        "created_by": item.created_by,
    }


@routes.route("/v1/ops/tariffs", "GET")
def list_tariffs(request: Any) -> Response:
    me = require_staff(request.headers)
    return ok({"tariffs": [_tariff_view(t) for t in tariffs.of_operator(me.operator)]})


@routes.route("/v1/ops/tariffs", "POST")
def create_tariff(request: Any) -> Response:
    me = require_staff(request.headers)
    body = json_body(request)
    item = tariffs.create(me.operator, me.user_id, body.get("name"), body.get("definition"), now())
    return ok(_tariff_view(item), status=201)


@routes.route("/v1/ops/tariffs/preview", "POST")
def preview_tariff(request: Any) -> Response:
    me = require_staff(request.headers)
    result, used = tariffs.preview(me.operator, json_body(request), now())
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


@routes.route("/v1/ops/tariffs/{tariff_id}", "GET")
def get_tariff(request: Any, tariff_id: str) -> Response:
    me = require_staff(request.headers)
    raw = query_param(request, "version")
    if raw and not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise Invalid("version must be a whole number", "invalid_version")
    return ok(_tariff_view(tariffs.get(me.operator, tariff_id, int(raw) if raw else None)))


@routes.route("/v1/ops/tariffs/{tariff_id}", "PUT")
def update_tariff(request: Any, tariff_id: str) -> Response:
    me = require_staff(request.headers)
    body = json_body(request)
    name, definition = body.get("name"), body.get("definition")
    item = tariffs.new_version(me.operator, me.user_id, tariff_id, name, definition, now())
    return ok(_tariff_view(item), status=201)


@routes.route("/v1/ops/lots/{lot_id}/tariff-plan", "PUT")
def assign_tariffs(request: Any, lot_id: str) -> Response:
    me = require_staff(request.headers)
    lot = tariffs.assign(me.operator, lot_id, json_body(request), now())
    return ok(
        {
            "lot_id": lot.lot_id,
            "tariff_plan": lot.tariff_plan,
            "holidays": list(lot.holidays or []),
            "grace_minutes": int(lot.grace_minutes),
        }
    )
