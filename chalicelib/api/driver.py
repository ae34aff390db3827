"""Driver routes: my plates, my visits, fee quotes and payments. Only ever the caller's own."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.auth import require_driver
from chalicelib.api.http import json_body, now, ok, query_param
from chalicelib.domain.timeutil import iso

bp = Blueprint(__name__)


@bp.route("/v1/driver/plates", methods=["GET"])
def list_plates() -> Response:
    from chalicelib.services import plates

    me = require_driver(bp.current_request.headers)
    return ok(
        {"plates": [{"plate": b.plate, "bound_at": iso(b.bound_at)} for b in plates.of_user(me.user_id)]}
    )


@bp.route("/v1/driver/plates", methods=["POST"])
def bind_plate() -> Response:
    from chalicelib.services import plates

    me = require_driver(bp.current_request.headers)
    plate = plates.clean(json_body(bp.current_request).get("plate"))
    binding = plates.bind(me.user_id, plate, now())
    return ok({"plate": binding.plate, "bound_at": iso(binding.bound_at)}, status=201)


@bp.route("/v1/driver/visits", methods=["GET"])
def my_visits() -> Response:
    from chalicelib.models.visits import Visit
    from chalicelib.services import plates, views

    me = require_driver(bp.current_request.headers)
    plate = plates.clean(query_param(bp.current_request, "plate"))
    plates.require_owner(me.user_id, plate)
    visits = Visit.by_plate.query(plate, scan_index_forward=False, limit=50)
    return ok({"plate": plate, "visits": [views.visit(v) for v in visits]})


@bp.route("/v1/driver/quotes", methods=["POST"])
def create_quote() -> Response:
    from chalicelib.services import plates, quotes, views

    me = require_driver(bp.current_request.headers)
    body = json_body(bp.current_request)
    plate = plates.clean(body.get("plate"))
    lot_id = body.get("lot_id")
    quote = quotes.create(me.user_id, plate, lot_id if isinstance(lot_id, str) and lot_id else None, now())
    return ok(views.quote(quote), status=201)


@bp.route("/v1/driver/quotes/{quote_id}", methods=["GET"])
def get_quote(quote_id: str) -> Response:
    from chalicelib.services import quotes, views

    me = require_driver(bp.current_request.headers)
    return ok(views.quote(quotes.get_own(me.user_id, quote_id)))


@bp.route("/v1/driver/payments", methods=["POST"])
def create_payment() -> Response:
    from chalicelib.services import payments, views

    me = require_driver(bp.current_request.headers)
    body = json_body(bp.current_request)
    created = payments.create(
        me.user_id, body.get("quote_id"), body.get("amount_fen"), body.get("method", "sandbox"), now()
    )
    return ok({**views.payment(created.payment), "provider_order": created.provider_order}, status=201)


@bp.route("/v1/driver/payments/{payment_id}", methods=["GET"])
def get_payment(payment_id: str) -> Response:
    from chalicelib.services import payments, views

    me = require_driver(bp.current_request.headers)
    return ok(views.payment(payments.get_own(me.user_id, payment_id)))
