"""The real payment channels as the payment flow uses them: a site's order at WeChat Pay or
Alipay (through the site's merchant account), the verification of each provider's notifications
against our orders, and query, close and refund.

Verifying a notification never calls out: the account it names (WeChat: `Wechatpay-Serial`, the
platform public key id; Alipay: `app_id`) is looked up in our own table, and an unknown one is
refused before any library sees the request. Then the adapter checks signature, freshness and
(WeChat) decrypts, and the order it is about must be ours, with that provider, at a site whose
account is that merchant, for exactly its amount. What comes out is the `Notification` the
booking use case (`orders.apply_notification`) applies once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from chalicelib.payments import merchants
from chalicelib.payments.alipay import AlipayAdapter, parse_notification
from chalicelib.payments.channel import ProviderPayment, ProviderRefund, mismatch
from chalicelib.payments.merchants import ALIPAY, LOT, WECHAT, MerchantAccount
from chalicelib.payments.models import Payment
from chalicelib.payments.sandbox import Notification, SignatureError
from chalicelib.payments.wechat import WeChatPayAdapter
from chalicelib.shared.db import get_or_none

METHODS = (WECHAT, ALIPAY)


def provider_order(
    provider: str,
    *,
    site_kind: str,
    site_id: str,
    out_trade_no: str,
    amount_fen: int,
    description: str,
    payer_id: str,
    expires_at: datetime,
    now: datetime,
) -> dict[str, Any]:
    """The order at the provider of the site's account, and what the mini-program needs to pay
    it (WeChat: the signed `wx.requestPayment` bundle; Alipay: the trade number). A site without
    an account refuses (409 `no_merchant_account`)."""
    account = merchants.account_of(site_kind, site_id, provider)
    if provider == WECHAT:
        return merchants.wechat_adapter(account).mini_program_order(
            out_trade_no, amount_fen, description, payer_id, expires_at, now
        )
    return merchants.alipay_adapter(account).mini_program_order(
        out_trade_no, amount_fen, description, payer_id, expires_at
    )


def require_account(provider: str, site_kind: str, site_id: str) -> MerchantAccount:
    """Refuse early (409 `no_merchant_account`) when a site cannot take `provider`."""
    return merchants.account_of(site_kind, site_id, provider)


def _order_amount(provider: str, account: MerchantAccount) -> Callable[[str], int | None]:
    """Our order's amount when it is ours with this provider at a site of this merchant."""

    def amount_of(out_trade_no: str) -> int | None:
        payment = get_or_none(Payment, out_trade_no, consistent=True) if out_trade_no else None
        if payment is None:
            return None
        if payment.provider != provider:
            raise mismatch(f"order {out_trade_no} is not a {provider} payment", "provider_mismatch")
        site = merchants.account_of(LOT, str(payment.lot_id), provider)
        if (site.app_id, site.merchant_id) != (account.app_id, account.merchant_id):
            raise mismatch(f"order {out_trade_no} belongs to another merchant account", "merchant_mismatch")
        return int(payment.amount_fen)

    return amount_of


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return str(value) if value is not None else ""


def _wechat_account(headers: Mapping[str, Any]) -> MerchantAccount:
    serial = _header(headers, "Wechatpay-Serial")
    found = merchants.accounts_for_notification(WECHAT, serial)
    if not found:
        raise SignatureError("Wechatpay-Serial names no platform public key of ours")
    return found[0]


def wechat_payment(headers: Mapping[str, Any], body: str, now: datetime) -> ProviderPayment:
    account = _wechat_account(headers)
    adapter = merchants.wechat_adapter(account)
    return adapter.verify_payment(headers, body, now, _order_amount(WECHAT, account))


def wechat_notification(headers: Mapping[str, Any], body: str, now: datetime) -> Notification:
    """A WeChat Pay payment notification, verified and matched: what the booking applies."""
    return wechat_payment(headers, body, now).notification()


def wechat_refund(
    headers: Mapping[str, Any], body: str, now: datetime, refund_of: Callable[[str], int | None]
) -> ProviderRefund:
    """A WeChat Pay refund notification, verified; `refund_of(out_refund_no)` is our refund's
    amount (the refund workflow's records), None when we asked for no such refund."""
    account = _wechat_account(headers)
    return merchants.wechat_adapter(account).verify_refund(headers, body, now, refund_of)


def alipay_payment(body: str, now: datetime) -> ProviderPayment:
    app_id = parse_notification(body).get("app_id", "")
    found = merchants.accounts_for_notification(ALIPAY, app_id)
    if not found:
        raise SignatureError("app_id names no Alipay app of ours")
    account = found[0]
    return merchants.alipay_adapter(account).verify_payment(body, now, _order_amount(ALIPAY, account))


def alipay_notification(body: str, now: datetime) -> Notification:
    """An Alipay trade notification, verified and matched: what the booking applies."""
    return alipay_payment(body, now).notification()


# -- after the order: query, close, refund (by the payment's site account)


def _adapter_for(payment: Payment) -> WeChatPayAdapter | AlipayAdapter:
    account = merchants.account_of(LOT, str(payment.lot_id), str(payment.provider))
    if payment.provider == WECHAT:
        return merchants.wechat_adapter(account)
    return merchants.alipay_adapter(account)


def query(payment: Payment) -> ProviderPayment:
    """The order as the provider knows it (the sweeper books or closes a pending one by it)."""
    return _adapter_for(payment).query(str(payment.payment_id))


def close(payment: Payment) -> None:
    _adapter_for(payment).close(str(payment.payment_id))


def refund(payment: Payment, refund_id: str, refund_fen: int, reason: str = "") -> ProviderRefund:
    """A refund at the provider; `refund_id` (ours) makes it idempotent: WeChat's out_refund_no,
    Alipay's out_request_no."""
    adapter = _adapter_for(payment)
    if isinstance(adapter, WeChatPayAdapter):
        return adapter.refund(
            refund_id,
            str(payment.payment_id),
            refund_fen,
            int(payment.amount_fen),
            reason,
            notify_url=merchants.wechat_refund_notify_url(),
        )
    return adapter.refund(refund_id, str(payment.payment_id), refund_fen, reason)
