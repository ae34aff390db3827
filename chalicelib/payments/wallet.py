"""Wallets: a driver's balance in fen and account status. Other contexts move money in and out
only inside their own transactions, through payments.ports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.payments.models import Wallet
from chalicelib.shared.db import get_or_none, transaction

ACTIVE = "active"
FROZEN = "frozen"


@dataclass(frozen=True)
class WalletView:
    user_id: str
    balance_fen: int
    status: str


def view(user_id: str) -> WalletView:
    wallet = get_or_none(Wallet, user_id, consistent=True)
    if wallet is None:
        return WalletView(user_id, 0, ACTIVE)
    return WalletView(user_id, int(wallet.balance_fen), str(wallet.status))


def debit(tx: TransactWrite, user_id: str, amount_fen: int, now: datetime) -> None:
    """Take `amount_fen` from an active wallet holding at least that much (fails the transaction
    otherwise)."""
    tx.update(
        Wallet(user_id),
        actions=[Wallet.balance_fen.add(-amount_fen), Wallet.updated_at.set(now)],
        condition=(Wallet.balance_fen >= amount_fen) & (Wallet.status == ACTIVE),
    )


def credit(tx: TransactWrite, user_id: str, amount_fen: int, now: datetime) -> None:
    """Add `amount_fen` (negative: take it, even below zero, for a cost beyond what was held)."""
    tx.update(Wallet(user_id), actions=[Wallet.balance_fen.add(amount_fen), Wallet.updated_at.set(now)])


def top_up(
    user_id: str, amount_fen: int, source: str, reference: str, now: datetime, status: str = ACTIVE
) -> None:
    """Money into a wallet with its posting (`source`: a provider's clearing account, or an
    opening balance); `reference` is the idempotency key (a repeated top-up fails)."""
    with transaction() as tx:
        tx.update(
            Wallet(user_id),
            actions=[
                Wallet.balance_fen.add(amount_fen),
                Wallet.updated_at.set(now),
                Wallet.status.set(Wallet.status | status),
            ],
        )
        ledger.add(
            tx, ledger.wallet_top_up(reference, user_id=user_id, source=source, amount_fen=amount_fen, at=now)
        )
