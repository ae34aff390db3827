"""What the real providers' adapters (wechat.py, alipay.py) share: what a verified payment or
refund says, in fen, and the errors a provider call or a notification check ends in."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.payments.sandbox import Notification
from chalicelib.shared.errors import Conflict, NotFound, Unavailable

SUCCESS = "SUCCESS"  # a paid trade, in the words the booking use case reads (`trade_state`)


class ProviderFailed(Unavailable):
    """The provider could not be reached or answered something we cannot trust (a bad answer
    signature, a 5xx): nothing is known to have happened; try again."""

    code = "provider_unavailable"


class ProviderRefused(Conflict):
    """The provider refused the call (its own business error, e.g. an order already closed)."""

    code = "provider_refused"


class NotificationMismatch(Conflict):
    """Authentic, but not about our order as we know it (another merchant, app or amount)."""

    code = "notification_mismatch"


def mismatch(message: str, code: str) -> NotificationMismatch:
    return NotificationMismatch(message, code)


def unknown(number: str, code: str = "unknown_order") -> NotFound:
    return NotFound(f"unknown {'refund' if code == 'unknown_refund' else 'order'} {number[:64]}", code)


@dataclass(frozen=True)
class ProviderPayment:
    """A trade as the provider reports it (a verified notification or a query answer)."""

    provider: str
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    trade_state: str  # SUCCESS when paid; otherwise the provider's own word
    success_time: str
    merchant_id: str

    @property
    def paid(self) -> bool:
        return self.trade_state == SUCCESS

    def notification(self) -> Notification:
        """As the booking use case (`orders.apply_notification`) takes it."""
        return Notification(
            out_trade_no=self.out_trade_no,
            transaction_id=self.transaction_id,
            amount_fen=self.amount_fen,
            trade_state=self.trade_state,
            success_time=self.success_time,
        )


@dataclass(frozen=True)
class ProviderRefund:
    provider: str
    out_trade_no: str
    out_refund_no: str  # our refund id
    refund_id: str  # the provider's
    refund_fen: int
    status: str  # SUCCESS, PROCESSING, ABNORMAL, CLOSED
    success_time: str = ""
