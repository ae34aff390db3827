"""Reconciliation and a day's payment records over HTTP (docs/booth.md): finance lists a day's
differences between the providers' statements and the journal and resolves each with a reason;
staff fetch one day's payment records of a lot, each with its source and method."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalice import Response

from chalicelib.parking import ports as parking
from chalicelib.payments import contract as c
from chalicelib.payments import reconcile
from chalicelib.shared.auth import FINANCE, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid, NotFound
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.tenancy import require_same_owner

routes = Routes()
DAY = "/v1/ops/reconciliation/{day}"


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise Invalid("day must be a date YYYY-MM-DD", "invalid_day") from exc


@routes.route(
    f"{DAY}/differences", "GET", response=c.DifferencesOut, errors=[400], auth=STAFF, roles=(FINANCE,)
)
def list_differences(request: Any, day: str, *, me: Principal) -> Response:
    """The day's differences at the caller's operator's merchant accounts, open and resolved."""
    wanted = _day(day)
    items = reconcile.differences(me.operator, wanted)
    return ok({"day": wanted.isoformat(), "differences": [reconcile.view(d) for d in items]})


@routes.route(
    f"{DAY}/differences/{{difference_id}}/resolve",
    "POST",
    body=c.ResolveIn,
    response=c.DifferenceOut,
    errors=[400, 404, 409],
    auth=STAFF,
    roles=(FINANCE,),
)
def resolve_difference(
    request: Any, day: str, difference_id: str, *, me: Principal, body: c.ResolveIn
) -> Response:
    """Resolve one difference with a reason (recorded and audited); once."""
    item = reconcile.resolve(me.user_id, me.operator, _day(day), difference_id, body.reason, now())
    return ok(reconcile.view(item))


@routes.route(
    "/v1/ops/lots/{lot_id}/payment-records",
    "GET",
    query=c.DayRecordsQuery,
    response=c.DayRecordsOut,
    errors=[400, 404],
    auth=STAFF,
)
def payment_records(request: Any, lot_id: str, *, me: Principal, query: c.DayRecordsQuery) -> Response:
    """One day's payment records of a lot (the lot's local day), each with its source and method."""
    require_same_owner(parking.lot_operator(lot_id), me.operator, NotFound("no such lot", "lot_not_found"))
    wanted = _day(query.day)
    return ok(
        {"lot_id": lot_id, "day": wanted.isoformat(), "payments": reconcile.day_records(lot_id, wanted)}
    )
