"""What the ledger offers the other contexts: postings built by the ledger's rules and added to
the caller's own TransactWrite (so each is written with the state change it belongs to), and the
journal read back for staff views."""

from __future__ import annotations

from chalicelib.ledger.domain.invariants import (
    Breach,
    HeldFact,
    PaymentFact,
    SessionFact,
    VisitFact,
    WalletFact,
)
from chalicelib.ledger.domain.postings import (
    OPENING,
    PaymentSplit,
    Posting,
    arrears_settled,
    card_top_up,
    charging_refund,
    coupon_batch_bought,
    coupon_used,
    held_payment,
    hold_released,
    opening,
    parking_payment,
    parking_refund,
    prepay_hold,
    prestore_deposit,
    prestore_payment,
    provider_clearing,
    session_subject,
    space_owner_share,
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
from chalicelib.ledger.domain.postings import card_balance as card_balance
from chalicelib.ledger.domain.postings import lot_site as lot_site
from chalicelib.ledger.domain.postings import prestore as prestore
from chalicelib.ledger.domain.postings import space_owner as space_owner
from chalicelib.ledger.journal import add, as_csv, as_json, get, local_day, of_site_day, of_subject
from chalicelib.ledger.views import CsvQuery, DayQuery, day_param, respond

__all__ = [
    "OPENING",
    "Breach",
    "CsvQuery",
    "DayQuery",
    "HeldFact",
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
    "card_top_up",
    "charging_refund",
    "coupon_batch_bought",
    "coupon_used",
    "day_param",
    "get",
    "held_payment",
    "hold_released",
    "local_day",
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
    "space_owner_share",
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
