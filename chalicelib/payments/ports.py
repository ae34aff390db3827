"""What payments offers the other contexts: the wallet, read, and moved inside the caller's own
transaction (charging's prepay hold and its settlement)."""

from __future__ import annotations

from chalicelib.payments.wallet import WalletView, credit, debit, top_up, view

__all__ = ["WalletView", "credit", "debit", "top_up", "view"]
