"""Helpers for the books' tests: the journal read back and the invariant check."""

from __future__ import annotations

from chalicelib.ledger import checks, journal
from chalicelib.ledger.domain.postings import Posting, balances


def postings_of(subject: str) -> list[Posting]:
    return journal.of_subject(subject)


def balance(account: str) -> int:
    return balances(journal.scan_all()).get(account, 0)


def assert_books_hold() -> None:
    breaches = checks.run()
    assert breaches == [], breaches
