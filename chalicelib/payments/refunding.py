"""Provider refunds as the refund workflow asks them (through payments.ports): a payment is paid
back by the provider that took it, numbered by the refund id (each provider makes one refund per
number, so a retried task never refunds twice).

- sandbox: its refund API (provider.py);
- WeChat Pay: `POST /v3/refund/domestic/refunds`; WeChat answers SUCCESS or, usually, PROCESSING:
  a processing refund raises ProviderUnavailable (the machine asks again with the same number)
  and its REFUND.SUCCESS notification, verified here, books it (whichever comes first books it,
  once);
- Alipay: `alipay.trade.refund` answers synchronously (the answer is the booking's proof).

A provider down or answering 5xx is ProviderUnavailable (retried); a refusal (a 4xx, a refund
beyond what is left, an ABNORMAL / CLOSED refund) is ProviderRefused (the refund fails, for
finance)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.payments import channel, channels, provider
from chalicelib.payments.models import Payment
from chalicelib.payments.provider import ProviderRefund, ProviderRefused, ProviderUnavailable
from chalicelib.shared.db import get_or_none

PROCESSING = "PROCESSING"


def refund(
    provider_name: str, *, refund_no: str, trade_no: str, amount_fen: int, total_fen: int
) -> ProviderRefund:
    """Pay `amount_fen` of the payment `trade_no` back through its provider, numbered `refund_no`."""
    if provider_name not in channels.METHODS:
        return provider.refund(
            provider_name, refund_no=refund_no, trade_no=trade_no, amount_fen=amount_fen, total_fen=total_fen
        )
    payment = get_or_none(Payment, trade_no, consistent=True)
    if payment is None or payment.provider != provider_name:
        raise ProviderRefused(f"no {provider_name} payment {trade_no}")
    try:
        answer = channels.refund(payment, refund_no, amount_fen)
    except channel.ProviderFailed as exc:
        raise ProviderUnavailable(exc.message) from exc
    except channel.ProviderRefused as exc:
        raise ProviderRefused(exc.message) from exc
    if answer.out_refund_no != refund_no or answer.refund_fen != amount_fen:
        raise ProviderRefused(f"the provider answered for another refund ({answer.out_refund_no})")
    if answer.status == PROCESSING:
        raise ProviderUnavailable(f"the {provider_name} refund {refund_no} is processing")
    if answer.status != channel.SUCCESS:
        raise ProviderRefused(f"the {provider_name} refund {refund_no} is {answer.status}")
    return ProviderRefund(answer.refund_id, answer.refund_fen, answer.status)


def wechat_refund_notification(
    headers: Mapping[str, Any], body: str, now: datetime, refund_of: Callable[[str], int | None]
) -> channel.ProviderRefund:
    """A WeChat Pay refund notification, verified (signature, freshness, decryption, merchant) and
    matched: `refund_of(out_refund_no)` is our refund's amount (None: no such refund)."""
    return channels.wechat_refund(headers, body, now, refund_of)
