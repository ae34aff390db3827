"""Every record of a lot (domain.md §2.1) for staff: by type, time range and plate, a page at a
time through indexes (never a scan), and as a CSV a cashier opens in a spreadsheet, with times in
the lot's time zone.

Types: the stored records (models.RECORD_TYPES), plus the visits themselves: `inside` (cars in
the lot now, index `inside_by_lot`) and `exited` (cars that left, by exit time, index
`exited_by_lot`). Payments are the payments' own listing (/v1/ops/lots/{lot_id}/payments).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.parking import lots, views
from chalicelib.parking.domain import records as rules
from chalicelib.parking.models import RECORD_TYPES, Record, Visit, lot_plate_key, time_key
from chalicelib.shared import paging
from chalicelib.shared.errors import Invalid
from chalicelib.shared.timeutil import iso_or_none

INSIDE_TYPE = "inside"
EXITED_TYPE = "exited"
TYPES = (INSIDE_TYPE, EXITED_TYPE, *RECORD_TYPES)
MAX_EXPORT_ROWS = 20_000
EARLIEST = datetime(2000, 1, 1).astimezone()
FAR = "9999"


@dataclass(frozen=True)
class Filter:
    record_type: str | None
    plate: str | None
    since: datetime | None
    until: datetime | None


def day_bounds(day: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """A local calendar day of the lot as UTC instants [start, end)."""
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone) - timedelta(microseconds=1)


def _bounds(f: Filter) -> tuple[str, str]:
    low = time_key(f.since) if f.since is not None else "0"
    high = time_key(f.until) + "~" if f.until is not None else FAR
    return low, high


def query(lot_id: str, f: Filter, cursor: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a lot's records, oldest first (cars inside: newest entry first)."""
    if f.record_type is not None and f.record_type not in TYPES:
        raise Invalid(f"type must be one of {', '.join(TYPES)}", "invalid_type")
    low, high = _bounds(f)
    if f.record_type == INSIDE_TYPE:
        condition = None
        if f.plate:
            condition = Visit.plate == f.plate
        results: Any = Visit.inside_by_lot.query(
            lot_id,
            filter_condition=condition,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=paging.decode(cursor, ("inside_lot", lot_id)),
        )
        items, next_cursor = paging.page(results, limit)
        return [_visit_row(v, INSIDE_TYPE) for v in items], next_cursor
    if f.record_type == EXITED_TYPE:
        since = f.since or datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC"))
        until = f.until or datetime(2200, 1, 1, tzinfo=ZoneInfo("UTC"))
        results = Visit.exited_by_lot.query(
            lot_id,
            Visit.exited_at.between(since, until),
            filter_condition=(Visit.plate == f.plate) if f.plate else None,
            limit=limit,
            last_evaluated_key=paging.decode(cursor, ("exited_lot", lot_id)),
        )
        items, next_cursor = paging.page(results, limit)
        return [_visit_row(v, EXITED_TYPE) for v in items], next_cursor
    if f.plate:
        key = lot_plate_key(lot_id, f.plate)
        results = Record.by_plate.query(
            key,
            Record.created_key.between(low, high),
            filter_condition=(Record.type == f.record_type) if f.record_type else None,
            limit=limit,
            last_evaluated_key=paging.decode(cursor, ("lot_plate", key)),
        )
    elif f.record_type:
        results = Record.query(
            lot_id,
            Record.record_key.between(f"{f.record_type}#{low}", f"{f.record_type}#{high}"),
            limit=limit,
            last_evaluated_key=paging.decode(cursor, ("lot_id", lot_id)),
        )
    else:
        results = Record.by_time.query(
            lot_id,
            Record.created_key.between(low, high),
            limit=limit,
            last_evaluated_key=paging.decode(cursor, ("lot_id", lot_id)),
        )
    items, next_cursor = paging.page(results, limit)
    return [views.record(r) for r in items], next_cursor


def _visit_row(visit: Visit, record_type: str) -> dict[str, Any]:
    at = visit.exited_at if record_type == EXITED_TYPE else visit.entered_at
    return {
        "type": record_type,
        "plate": visit.plate,
        "visit_id": visit.visit_id,
        "detail": views.visit(visit),
        "created_at": iso_or_none(at),
    }


def everything(lot_id: str, f: Filter) -> list[dict[str, Any]]:
    """Every page of a filter, for an export (bounded)."""
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while len(rows) < MAX_EXPORT_ROWS:
        page, cursor = query(lot_id, f, cursor, 500)
        rows += page
        if cursor is None:
            break
    return rows[:MAX_EXPORT_ROWS]


def of_lot(
    operator_id: str, lot_id: str, f: Filter, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    lots.own(operator_id, lot_id)
    return query(lot_id, f, cursor, limit)


def as_csv(rows: Iterable[dict[str, Any]], zone: tzinfo) -> str:
    """The cashier's columns, times in the lot's zone, money in yuan; with a byte-order mark so a
    spreadsheet reads the Chinese text as UTF-8."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(rules.CSV_HEADER)
    for row in rows:
        writer.writerow(rules.csv_row(row, zone))
    return out.getvalue()
