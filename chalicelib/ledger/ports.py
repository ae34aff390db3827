"""What the ledger offers the other contexts: postings built by the ledger's rules and added to
the caller's own TransactWrite (so each is written with the state change it belongs to), and the
journal read back for staff views."""

from __future__ import annotations

from chalicelib.ledger.domain.invariants import Breach, PaymentFact, SessionFact, VisitFact, WalletFact
from chalicelib.ledger.domain.postings import (
    OPENING,
    PaymentSplit,
    Posting,
    arrears_settled,
    charging_refund,
    hold_released,
    opening,
    parking_payment,
    parking_refund,
    prepay_hold,
    prestore_deposit,
    prestore_payment,
    provider_clearing,
    session_subject,
    split_payment,
    station_site,
    visit_closed,
    visit_subject,
    wallet,
    wallet_top_up,
    withdrawal_held,
    withdrawal_paid,
    withdrawal_released,
)
from chalicelib.ledger.domain.postings import lot_site as lot_site
from chalicelib.ledger.journal import add, as_csv, as_json, get, of_site_day, of_subject
from chalicelib.ledger.views import CsvQuery, DayQuery, day_param, respond

__all__ = [
    "OPENING",
    "Breach",
    "CsvQuery",
    "DayQuery",
    "PaymentFact",
    "PaymentSplit",
    "Posting",
    "SessionFact",
    "VisitFact",
    "WalletFact",
    "add",
    "arrears_settled",
    "as_csv",
    "as_json",
    "charging_refund",
    "day_param",
    "get",
    "hold_released",
    "lot_site",
    "of_site_day",
    "of_subject",
    "opening",
    "parking_payment",
    "parking_refund",
    "prepay_hold",
    "prestore_deposit",
    "prestore_payment",
    "provider_clearing",
    "respond",
    "session_subject",
    "split_payment",
    "station_site",
    "visit_closed",
    "visit_subject",
    "wallet",
    "wallet_top_up",
    "withdrawal_held",
    "withdrawal_paid",
    "withdrawal_released",
]
