"""Staff see a station's books: the journal of a day and one session's postings with its refund
counters (JSON, or CSV with `?format=csv`), only for their own operator's. The refunds themselves
are the workflows context's (`/v1/ops/refunds`)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.charging import registry
from chalicelib.charging.models import ChargingSession
from chalicelib.ledger import ports as ledger
from chalicelib.shared.auth import STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.db import get_owned
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes

routes = Routes()


@routes.route(
    "/v1/ops/stations/{station_id}/journal",
    "GET",
    query=ledger.DayQuery,
    response=dict[str, Any],
    errors=[404],
    auth=STAFF,
)
def station_journal(request: Any, station_id: str, *, me: Principal) -> Response:
    """A station's postings of one local day with the day's balances (`?format=csv`: CSV)."""
    station = registry.own_station(me.operator, station_id)
    day = ledger.day_param(request, now(), station.timezone)
    postings = ledger.of_site_day(ledger.station_site(station_id), day)
    return ledger.respond(
        request, f"journal-{station_id}-{day}", postings, {"station_id": station_id, "day": day}
    )


@routes.route(
    "/v1/ops/charging/sessions/{session_id}/postings",
    "GET",
    query=ledger.CsvQuery,
    response=dict[str, Any],
    errors=[404],
    auth=STAFF,
)
def session_postings(request: Any, session_id: str, *, me: Principal) -> Response:
    """One session's postings, what was refunded and what refunds hold in flight (`?format=csv`: CSV)."""
    session = get_owned(
        ChargingSession,
        session_id,
        owner=("operator_id", me.operator),
        missing=NotFound("no such charging session", "session_not_found"),
    )
    postings = ledger.of_subject(ledger.session_subject(session.session_id))
    return ledger.respond(
        request,
        f"session-{session_id}",
        postings,
        {
            "session_id": session_id,
            "state": session.state,
            "refunded_fen": int(session.refunded_fen or 0),
            "refund_in_flight_fen": int(session.refund_requested_fen or 0),
        },
    )
