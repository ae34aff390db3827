"""The scheduled check runs from the ledger's blueprint: zero breaches on the demo data, and a
tampered wallet is reported (metric + log line)."""

from __future__ import annotations

from chalice.test import Client

from chalicelib.payments.models import Wallet

EVENT = {
    "version": "0",
    "id": "check",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-11-22T02:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {},
}


def test_the_scheduled_check_reports_breaches(client: Client) -> None:
    from chalicelib.ledger.blueprint import check_books

    assert check_books(EVENT, None)["breaches"] == 0
    Wallet("demo-driver").update(actions=[Wallet.balance_fen.add(300)])  # money out of nowhere
    report = check_books(EVENT, None)
    assert report["breaches"] == 1 and report["first"][0]["rule"] == "wallet_mismatch"
