"""What payments offers the other contexts: the wallet, read, and moved inside the caller's own
transaction (charging's prepay hold and its settlement); balances for the ledger's check."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.ledger.ports import PaymentFact, WalletFact
from chalicelib.payments.models import BOOKED, Payment, Wallet
from chalicelib.payments.wallet import WalletView, credit, debit, top_up, view

__all__ = ["WalletView", "confirmed_payments", "credit", "debit", "top_up", "view", "wallet_facts"]


def wallet_facts() -> Iterator[WalletFact]:
    """Every wallet's balance (the ledger's scheduled check; a scan, never on a request path)."""
    for wallet in Wallet.scan():
        yield WalletFact(str(wallet.user_id), int(wallet.balance_fen))


def confirmed_payments() -> Iterator[PaymentFact]:
    """Every payment a provider confirmed (the ledger's scheduled check)."""
    for payment in Payment.scan(Payment.status.is_in(*BOOKED)):
        yield PaymentFact(str(payment.payment_id), str(payment.provider), int(payment.amount_fen))
