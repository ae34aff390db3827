"""Staff see a station's books: the journal of a day, one session's postings and the refund
requests in flight (JSON, or CSV with `?format=csv`), only for their own operator's."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.charging import registry, sessions
from chalicelib.charging.models import ChargingSession
from chalicelib.ledger import ports as ledger
from chalicelib.shared.auth import STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.db import get_owned
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.timeutil import iso

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
    """One session's postings and its refund requests (`?format=csv`: CSV)."""
    session = get_owned(
        ChargingSession,
        session_id,
        owner=("operator_id", me.operator),
        missing=NotFound("no such charging session", "session_not_found"),
    )
    postings = ledger.of_subject(ledger.session_subject(session.session_id))
    requests = [
        {
            "refund_id": r.refund_id,
            "amount_fen": int(r.amount_fen),
            "status": r.status,
            "at": iso(r.created_at),
        }
        for r in sessions.refund_requests_of_session(session.session_id)
    ]
    return ledger.respond(
        request,
        f"session-{session_id}",
        postings,
        {"session_id": session_id, "state": session.state, "refund_requests": requests},
    )


@routes.route("/v1/ops/charging/refund-requests", "GET", response=dict[str, Any], auth=STAFF)
def refund_requests(request: Any, *, me: Principal) -> Response:
    """My operator's refund requests (status `requested` until the refund workflow routes them)."""
    return ok(
        {
            "refund_requests": [
                {
                    "refund_id": r.refund_id,
                    "session_id": r.session_id,
                    "station_id": r.station_id,
                    "user_id": r.user_id,
                    "amount_fen": int(r.amount_fen),
                    "status": r.status,
                    "created_at": iso(r.created_at),
                }
                for r in sessions.refund_requests_of(me.operator)
            ]
        }
    )
