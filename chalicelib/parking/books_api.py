"""Staff see a lot's books: the journal of a day, one visit's postings and the open refund
obligations (JSON, or CSV with `?format=csv`), only for their own operator's lots."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.ledger import ports as ledger
from chalicelib.parking import config
from chalicelib.shared.auth import STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes

routes = Routes()


def _own_lot(me: Principal, lot_id: str) -> config.LotConfig:
    lot = config.lot(lot_id)
    if lot is None or lot.operator_id != me.operator:
        raise NotFound("no such lot", "lot_not_found")
    return lot


@routes.route(
    "/v1/ops/lots/{lot_id}/journal",
    "GET",
    query=ledger.DayQuery,
    response=dict[str, Any],
    errors=[404],
    auth=STAFF,
)
def lot_journal(request: Any, lot_id: str, *, me: Principal) -> Response:
    """A lot's postings of one local day with the day's balances (`?format=csv`: CSV)."""
    lot = _own_lot(me, lot_id)
    day = ledger.day_param(request, now(), lot.timezone)
    postings = ledger.of_site_day(ledger.lot_site(lot_id), day)
    return ledger.respond(request, f"journal-{lot_id}-{day}", postings, {"lot_id": lot_id, "day": day})


@routes.route(
    "/v1/ops/lots/{lot_id}/visits/{visit_id}/postings",
    "GET",
    query=ledger.CsvQuery,
    response=dict[str, Any],
    errors=[404],
    auth=STAFF,
)
def visit_postings(request: Any, lot_id: str, visit_id: str, *, me: Principal) -> Response:
    """One visit's postings (`?format=csv`: CSV)."""
    _own_lot(me, lot_id)
    postings = [
        p for p in ledger.of_subject(ledger.visit_subject(visit_id)) if p.site == ledger.lot_site(lot_id)
    ]
    if not postings:  # another lot's (or operator's) visit looks exactly like a missing one
        raise NotFound("no postings for this visit at this lot", "visit_not_found")
    return ledger.respond(request, f"visit-{visit_id}", postings, {"lot_id": lot_id, "visit_id": visit_id})


@routes.route(
    "/v1/ops/lots/{lot_id}/obligations",
    "GET",
    query=ledger.DayQuery,
    response=dict[str, Any],
    errors=[404],
    auth=STAFF,
)
def lot_obligations(request: Any, lot_id: str, *, me: Principal) -> Response:
    """Money taken beyond what visits owed (refunds payable), from the day's journal, still open
    (the refund workflow pays them back in a later change)."""
    lot = _own_lot(me, lot_id)
    day = ledger.day_param(request, now(), lot.timezone)
    owed: dict[str, int] = {}
    carrying = []
    for posting in ledger.of_site_day(ledger.lot_site(lot_id), day):
        lines = [line for line in posting.lines if line.account.startswith("refunds_payable:")]
        if lines:
            carrying.append(posting)
        for line in lines:
            owed[posting.subject] = owed.get(posting.subject, 0) - line.amount_fen
    return ledger.respond(
        request,
        f"obligations-{lot_id}-{day}",
        carrying,
        {
            "lot_id": lot_id,
            "day": day,
            "obligations": [
                {"subject": subject, "amount_fen": amount, "status": "open"}
                for subject, amount in sorted(owed.items())
                if amount
            ],
        },
    )
