"""Writing postings into the caller's transaction, and reading them back."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.transactions import TransactWrite

from chalicelib.ledger.domain.postings import Line, Posting
from chalicelib.ledger.models import JournalPosting
from chalicelib.shared.timeutil import iso

DEFAULT_ZONE = "Asia/Shanghai"


def local_day(at: datetime, zone: str | None = None) -> str:
    return at.astimezone(ZoneInfo(zone or DEFAULT_ZONE)).date().isoformat()


def sort_time(at: datetime) -> str:
    """UTC to the microsecond, so postings within one second keep their order."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_item(posting: Posting, zone: str | None = None) -> JournalPosting:
    return JournalPosting(
        posting.posting_id,
        kind=posting.kind,
        at=posting.at,
        at_id=f"{sort_time(posting.at)}#{posting.posting_id}",
        site=posting.site,
        site_day=f"{posting.site}#{local_day(posting.at, zone)}",
        subject=posting.subject,
        operator_id=posting.operator_id,
        lines=[[line.account, line.amount_fen] for line in posting.lines],
        memo=posting.memo,
    )


def from_item(item: JournalPosting) -> Posting:
    return Posting(
        str(item.posting_id),
        str(item.kind),
        item.at,
        str(item.site),
        str(item.subject),
        item.operator_id,
        tuple(Line(str(name), int(amount)) for name, amount in item.lines or []),
        dict(item.memo or {}),
    )


def add(tx: TransactWrite, posting: Posting | None, zone: str | None = None) -> None:
    """One item in the caller's transaction: the posting, put only if its id does not exist (a
    repeated posting fails the whole transaction, so its state change is not repeated either)."""
    if posting is None:
        return
    tx.save(to_item(posting, zone), condition=JournalPosting.posting_id.does_not_exist())


def of_subject(subject: str) -> list[Posting]:
    return [from_item(i) for i in JournalPosting.by_subject.query(subject)]


def of_site_day(site: str, day: date | str) -> list[Posting]:
    key = f"{site}#{day if isinstance(day, str) else day.isoformat()}"
    return [from_item(i) for i in JournalPosting.by_site_day.query(key)]


def get(posting_id: str) -> Posting | None:
    try:
        return from_item(JournalPosting.get(posting_id, consistent_read=True))
    except JournalPosting.DoesNotExist:
        return None


def scan_all() -> Iterator[Posting]:
    for item in JournalPosting.scan():
        yield from_item(item)


def as_json(posting: Posting) -> dict[str, Any]:
    return {
        "posting_id": posting.posting_id,
        "kind": posting.kind,
        "at": iso(posting.at),
        "site": posting.site,
        "subject": posting.subject,
        "lines": [{"account": line.account, "amount_fen": line.amount_fen} for line in posting.lines],
        "memo": posting.memo,
    }


CSV_COLUMNS = ("at", "posting_id", "kind", "site", "subject", "account", "debit_fen", "credit_fen")


def as_csv(postings: Iterable[Posting]) -> str:
    """One row per line: an auditor's view (debits and credits in separate columns, in fen)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in postings:
        for line in p.lines:
            debit, credit = (line.amount_fen, 0) if line.amount_fen > 0 else (0, -line.amount_fen)
            writer.writerow([iso(p.at), p.posting_id, p.kind, p.site, p.subject, line.account, debit, credit])
    return out.getvalue()
