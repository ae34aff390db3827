"""Parking's HTTP edge. Drivers: their plates, visits, fee quotes. Staff (scoped to their
operator; another operator's lot answers 404): lots, cars inside, records, tariffs and the
lot's tariff plan. Each route declares its typed input and output; the shared wrapper parses and
authenticates, the handler calls one use case."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.parking import contract as c
from chalicelib.parking import lots, plates, quotes, tariffs, views
from chalicelib.parking.models import TariffVersion
from chalicelib.shared.auth import DRIVER, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.timeutil import iso

routes = Routes()

# --- drivers ---------------------------------------------------------------------------------


@routes.route("/v1/driver/plates", "GET", response=c.PlatesOut, auth=DRIVER)
def list_plates(request: Any, *, me: Principal) -> Response:
    return ok(
        {"plates": [{"plate": b.plate, "bound_at": iso(b.bound_at)} for b in plates.of_user(me.user_id)]}
    )


@routes.route(
    "/v1/driver/plates", "POST", body=c.PlateIn, response=c.PlateOut, status=201, errors=[409], auth=DRIVER
)
def bind_plate(request: Any, *, me: Principal, body: c.PlateIn) -> Response:
    binding = plates.bind(me.user_id, plates.clean(body.plate), now())
    return ok({"plate": binding.plate, "bound_at": iso(binding.bound_at)}, status=201)


@routes.route("/v1/driver/visits", "GET", query=c.PlateQuery, response=c.PlateVisitsOut, auth=DRIVER)
def my_visits(request: Any, *, me: Principal, query: c.PlateQuery) -> Response:
    plate = plates.clean(query.plate)
    visits = lots.visits_of_plate(me.user_id, plate)
    return ok({"plate": plate, "visits": [views.visit(v) for v in visits]})


@routes.route(
    "/v1/driver/quotes",
    "POST",
    body=c.QuoteIn,
    response=c.QuoteOut,
    status=201,
    errors=[404, 409, 422],
    auth=DRIVER,
)
def create_quote(request: Any, *, me: Principal, body: c.QuoteIn) -> Response:
    quote = quotes.create(me.user_id, plates.clean(body.plate), body.lot_id, now(), body.coupon_ids)
    return ok(views.quote(quote), status=201)


@routes.route("/v1/driver/quotes/{quote_id}", "GET", response=c.QuoteOut, errors=[404], auth=DRIVER)
def get_quote(request: Any, quote_id: str, *, me: Principal) -> Response:
    return ok(views.quote(quotes.get_own(me.user_id, quote_id)))


# --- staff -----------------------------------------------------------------------------------


@routes.route("/v1/ops/lots", "GET", response=c.LotsOut, auth=STAFF)
def list_lots(request: Any, *, me: Principal) -> Response:
    return ok(
        {
            "lots": [
                {"lot_id": lot.lot_id, "name": lot.name, "timezone": lot.timezone}
                for lot in lots.of_operator(me.operator)
            ]
        }
    )


@routes.route("/v1/ops/lots/{lot_id}", "GET", response=c.LotOut, errors=[404], auth=STAFF)
def get_lot(request: Any, lot_id: str, *, me: Principal) -> Response:
    lot = lots.own(me.operator, lot_id)
    return ok({**views.lot(lot), "lanes": [views.lane(lane) for lane in lots.lanes(lot_id)]})


@routes.route(
    "/v1/ops/lots/{lot_id}/visits",
    "GET",
    query=c.LotVisitsQuery,
    response=c.LotVisitsOut,
    errors=[404],
    auth=STAFF,
)
def lot_visits(request: Any, lot_id: str, *, me: Principal, query: c.LotVisitsQuery) -> Response:
    visits = lots.visits_inside(me.operator, lot_id, query.status)
    return ok({"lot_id": lot_id, "visits": [views.visit(v) for v in visits]})


def _tariff_view(item: TariffVersion) -> dict[str, Any]:
    return {
        "tariff_id": item.tariff_id,
        "version": int(item.version),
        "name": item.name,
        "definition": item.definition,
        "created_at": iso(item.created_at),
        "created_by": item.created_by,
    }


@routes.route("/v1/ops/tariffs", "GET", response=c.TariffsOut, auth=STAFF)
def list_tariffs(request: Any, *, me: Principal) -> Response:
    return ok({"tariffs": [_tariff_view(t) for t in tariffs.of_operator(me.operator)]})


@routes.route("/v1/ops/tariffs", "POST", body=c.TariffIn, response=c.TariffOut, status=201, auth=STAFF)
def create_tariff(request: Any, *, me: Principal, body: c.TariffIn) -> Response:
    item = tariffs.create(me.operator, me.user_id, body, now())
    return ok(_tariff_view(item), status=201)


@routes.route(
    "/v1/ops/tariffs/preview", "POST", body=c.PreviewIn, response=c.PreviewOut, errors=[404], auth=STAFF
)
def preview_tariff(request: Any, *, me: Principal, body: c.PreviewIn) -> Response:
    result, used = tariffs.preview(me.operator, body, now())
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


@routes.route(
    "/v1/ops/tariffs/{tariff_id}", "GET", query=c.VersionQuery, response=c.TariffOut, errors=[404], auth=STAFF
)
def get_tariff(request: Any, tariff_id: str, *, me: Principal, query: c.VersionQuery) -> Response:
    return ok(_tariff_view(tariffs.get(me.operator, tariff_id, query.version)))


@routes.route(
    "/v1/ops/tariffs/{tariff_id}",
    "PUT",
    body=c.TariffUpdate,
    response=c.TariffOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
)
def update_tariff(request: Any, tariff_id: str, *, me: Principal, body: c.TariffUpdate) -> Response:
    item = tariffs.new_version(me.operator, me.user_id, tariff_id, body, now())
    return ok(_tariff_view(item), status=201)


@routes.route(
    "/v1/ops/lots/{lot_id}/tariff-plan",
    "PUT",
    body=c.TariffPlanIn,
    response=c.TariffPlanOut,
    errors=[404],
    auth=STAFF,
)
def assign_tariffs(request: Any, lot_id: str, *, me: Principal, body: c.TariffPlanIn) -> Response:
    lot = tariffs.assign(me.operator, me.user_id, lot_id, body, now())
    return ok(
        {
            "lot_id": lot.lot_id,
            "tariff_plan": lot.tariff_plan,
            "holidays": list(lot.holidays or []),
            "grace_minutes": int(lot.grace_minutes),
        }
    )
