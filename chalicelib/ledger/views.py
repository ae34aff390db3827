"""The journal for staff: JSON, or CSV (one row per line) with `?format=csv`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import msgspec
from chalice import Response

from chalicelib.ledger.domain.postings import Posting, balances
from chalicelib.ledger.journal import DEFAULT_ZONE, as_csv, as_json
from chalicelib.shared.errors import Invalid
from chalicelib.shared.http import ok


def query_param(request: Any, name: str, default: str = "") -> str:
    params: dict[str, str] = request.query_params or {}
    return params.get(name, default)


class DayQuery(msgspec.Struct, kw_only=True):
    """`?day=YYYY-MM-DD` (the site's local day, today by default). `?format=csv` gives the same
    postings as CSV, one row per line (see docs/ledger.md)."""

    day: Annotated[str, msgspec.Meta(max_length=10)] | None = None


class CsvQuery(msgspec.Struct, kw_only=True):
    """`?format=csv` gives the postings as CSV, one row per line (see docs/ledger.md)."""


def day_param(request: Any, now: datetime, zone: str | None) -> str:
    """`?day=YYYY-MM-DD` (the site's local day), today by default."""
    raw = query_param(request, "day")
    if not raw:
        return now.astimezone(ZoneInfo(zone or DEFAULT_ZONE)).date().isoformat()
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError as exc:
        raise Invalid("day must be a date YYYY-MM-DD", "invalid_day") from exc


def respond(request: Any, name: str, postings: Sequence[Posting], extra: dict[str, Any]) -> Response:
    fmt = query_param(request, "format", "json")
    if fmt == "csv":
        return Response(
            body=as_csv(postings),
            status_code=200,
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{name}.csv"',
            },
        )
    if fmt != "json":
        raise Invalid("format must be json or csv", "invalid_format")
    totals = balances(postings)
    return ok(
        {
            **extra,
            "postings": [as_json(p) for p in postings],
            "balances": [{"account": k, "amount_fen": v} for k, v in sorted(totals.items()) if v],
        }
    )
