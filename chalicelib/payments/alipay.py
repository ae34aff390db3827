"""Alipay (支付宝) open API for mini-programs, through `python-alipay-sdk` (RSA2 keys, not the
certificate mode).

What the library does: builds and RSA2-signs every call's parameters (sorted ``k=v`` joined by
``&``, `sign` added last) and sends them to the gateway; checks the signature Alipay puts on the
answer (over the exact text of the `*_response` object); and `verify(data, sign)` checks a
notification's signature over its sorted parameters, removing `sign_type` itself (the caller must
remove `sign`, as Alipay specifies: both are left out of the signed text).

What it does not, and this adapter does:
- it does not look at what a verified notification says: `app_id`, `seller_id`, `out_trade_no`
  and `total_amount` are checked against our order and account here, and `trade_status` decides
  whether the trade is paid (TRADE_SUCCESS / TRADE_FINISHED);
- amounts are decimal yuan text ("9.00"); they are read digit by digit into fen
  (`shared.money.parse_yuan`), never through a float;
- an answer that verifies but carries an error code (anything but 10000) is returned as if fine:
  here it is a refusal;
- a parameter given twice in a notification body is refused (which one would be signed?);
- a notification's `notify_time` (signed, China time) far from `now` is refused (Alipay retries
  for about a day: `MAX_AGE`).
"""

from __future__ import annotations

import urllib.error
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.payments.channel import (
    SUCCESS,
    ProviderFailed,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    mismatch,
    unknown,
)
from chalicelib.payments.sandbox import MalformedNotification, SignatureError
from chalicelib.shared.money import parse_yuan, yuan_text

PROVIDER = "alipay"
GATEWAY = "https://openapi.alipay.com/gateway.do"
SIGN_TYPE = "RSA2"
OK_CODE = "10000"
PAID_STATES = ("TRADE_SUCCESS", "TRADE_FINISHED")
CHINA = timezone(timedelta(hours=8))
MAX_AGE = timedelta(hours=26)  # Alipay retries a notification over about 25 hours
MAX_AHEAD = timedelta(minutes=5)
MAX_BODY = 16 * 1024
TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class AlipayAccount:
    app_id: str  # the mini-program's app id (APPID)
    seller_id: str  # the merchant's Alipay user id (2088…): whose account the money goes to
    private_key: str  # the app's private key (PEM)
    alipay_public_key: str  # Alipay's public key for this app (PEM)


def set_gateway(client: Any, url: str) -> None:
    """The one place that reaches into python-alipay-sdk: its gateway URL is the private
    `BaseAliPay._gateway` (set from `debug` in its constructor). A library upgrade that moves it
    fails here (and in its test) instead of silently calling the real gateway."""
    if not isinstance(getattr(client, "_gateway", None), str):
        raise RuntimeError(
            "python-alipay-sdk no longer keeps its gateway in BaseAliPay._gateway: see alipay.py"
        )
    client._gateway = url


def gateway_of(client: Any) -> str:
    return str(client._gateway)


def china_time(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _parse_china_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    except (TypeError, ValueError):
        return None


class AlipayAdapter:
    """One app's client (no I/O on construction)."""

    def __init__(self, account: AlipayAccount, gateway_url: str = GATEWAY, notify_url: str | None = None):
        from alipay import AliPay
        from alipay.utils import AliPayConfig

        self.account = account
        self.notify_url = notify_url
        self._client = AliPay(
            appid=account.app_id,
            app_notify_url=notify_url,
            app_private_key_string=account.private_key,
            alipay_public_key_string=account.alipay_public_key,
            sign_type=SIGN_TYPE,
            config=AliPayConfig(timeout=TIMEOUT_SECONDS),
        )
        set_gateway(self._client, gateway_url)

    @property
    def gateway_url(self) -> str:
        return gateway_of(self._client)

    def _call(self, what: str, call: Callable[[], Any], allow: tuple[str, ...] = ()) -> dict[str, Any]:
        from alipay.exceptions import AliPayException, AliPayValidationError

        try:
            answer = call()
        except AliPayValidationError as exc:
            raise ProviderFailed(f"{PROVIDER} {what}: the answer's signature does not verify") from exc
        except AliPayException as exc:  # an unsigned answer: a gateway-level error
            raise ProviderRefused(
                f"{PROVIDER} {what} refused ({str(exc)[:200]})", "provider_refused"
            ) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ProviderFailed(f"{PROVIDER} {what}: {type(exc).__name__}") from exc
        if not isinstance(answer, dict):
            raise ProviderFailed(f"{PROVIDER} {what}: the answer is not an object")
        code = answer.get("code")
        if code != OK_CODE and answer.get("sub_code") not in allow:
            detail = f"{code} {answer.get('sub_code', '')}: {answer.get('sub_msg') or answer.get('msg')}"
            raise ProviderRefused(f"{PROVIDER} {what} refused ({detail[:200]})", "provider_refused")
        return answer

    def mini_program_order(
        self, out_trade_no: str, amount_fen: int, subject: str, buyer_id: str, expires_at: datetime
    ) -> dict[str, Any]:
        """alipay.trade.create for a mini-program: the `trade_no` the mini-program passes to
        `my.tradePay({tradeNO})`."""
        answer = self._call(
            "trade create",
            lambda: self._client.api_alipay_trade_create(
                subject=subject,
                out_trade_no=out_trade_no,
                total_amount=yuan_text(amount_fen),
                notify_url=self.notify_url,
                product_code="JSAPI_PAY",
                op_app_id=self.account.app_id,
                buyer_id=buyer_id,
                seller_id=self.account.seller_id,
                time_expire=china_time(expires_at),
            ),
        )
        trade_no = answer.get("trade_no")
        if not isinstance(trade_no, str) or not trade_no:
            raise ProviderFailed(f"{PROVIDER} trade create: no trade_no in the answer")
        return {"provider": PROVIDER, "out_trade_no": out_trade_no, "trade_no": trade_no}

    def query(self, out_trade_no: str) -> ProviderPayment:
        answer = self._call(
            "trade query", lambda: self._client.api_alipay_trade_query(out_trade_no=out_trade_no)
        )
        return self._payment(answer, self.account.seller_id)

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid trade; a trade Alipay never created (the driver never opened the
        cashier) is closed already."""
        self._call(
            "trade close",
            lambda: self._client.api_alipay_trade_close(out_trade_no=out_trade_no),
            allow=("ACQ.TRADE_NOT_EXIST",),
        )

    def refund(
        self, out_request_no: str, out_trade_no: str, refund_fen: int, reason: str = ""
    ) -> ProviderRefund:
        """alipay.trade.refund; `out_request_no` is our refund id: asking again with it is the
        same refund (Alipay answers `fund_change: N`), never a second one."""
        extra = {"refund_reason": reason} if reason else {}
        answer = self._call(
            "refund",
            lambda: self._client.api_alipay_trade_refund(
                refund_amount=yuan_text(refund_fen),
                out_trade_no=out_trade_no,
                out_request_no=out_request_no,
                **extra,
            ),
        )
        return ProviderRefund(
            provider=PROVIDER,
            out_trade_no=out_trade_no,
            out_refund_no=out_request_no,
            refund_id=str(answer.get("trade_no", "")),
            refund_fen=refund_fen,
            status=SUCCESS,
            success_time=str(answer.get("gmt_refund_pay", "")),
        )

    def query_refund(self, out_request_no: str, out_trade_no: str) -> ProviderRefund:
        answer = self._call(
            "refund query",
            lambda: self._client.api_alipay_trade_fastpay_refund_query(
                out_request_no, out_trade_no=out_trade_no
            ),
        )
        status = answer.get("refund_status")
        return ProviderRefund(
            provider=PROVIDER,
            out_trade_no=out_trade_no,
            out_refund_no=out_request_no,
            refund_id=str(answer.get("trade_no", "")),
            refund_fen=_fen(answer.get("refund_amount"), "refund_amount") if status else 0,
            status=SUCCESS if status == "REFUND_SUCCESS" else "PROCESSING",
        )

    def bill_url(self, bill_date: str) -> str:
        """alipay.data.dataservice.bill.downloadurl.query: where the day's trade bill is."""
        answer = self._call(
            "bill url",
            lambda: self._client.server_api(
                "alipay.data.dataservice.bill.downloadurl.query",
                {"bill_type": "trade", "bill_date": bill_date},
            ),
        )
        url = answer.get("bill_download_url")
        if not isinstance(url, str):
            raise ProviderFailed(f"{PROVIDER} bill url: no bill_download_url")
        return url

    # -- notifications

    def verify_payment(
        self, body: str, now: datetime, amount_of: Callable[[str], int | None]
    ) -> ProviderPayment:
        """An asynchronous notification (form-encoded POST): signature first (without `sign` and
        `sign_type`), then app, seller, order and amount against ours."""
        params = parse_notification(body)
        signature = params.pop("sign", "")
        if not signature:
            raise SignatureError("missing sign")
        if params.get("sign_type") != SIGN_TYPE:
            raise SignatureError("sign_type must be RSA2")
        try:
            verified = self._client.verify(dict(params), signature)  # drops sign_type itself
        except Exception as exc:  # malformed base64 in `sign`
            raise SignatureError(f"sign does not verify: {type(exc).__name__}") from exc
        if not verified:
            raise SignatureError("sign does not verify")
        sent = _parse_china_time(params.get("notify_time", ""))
        if sent is None or not now - MAX_AGE <= sent <= now + MAX_AHEAD:
            raise SignatureError("notify_time is missing or outside the accepted window")
        if params.get("app_id") != self.account.app_id:
            raise mismatch("the notification is for another app", "merchant_mismatch")
        payment = self._payment(params, params.get("seller_id", ""))
        expected = amount_of(payment.out_trade_no)
        if expected is None:
            raise unknown(payment.out_trade_no)
        if payment.amount_fen != expected:
            raise mismatch(
                f"notified {payment.amount_fen} fen for an order of {expected} fen", "amount_mismatch"
            )
        return payment

    def _payment(self, fields: dict[str, Any], seller_id: Any) -> ProviderPayment:
        if seller_id is not None and seller_id != self.account.seller_id:
            raise mismatch("the trade is for another seller", "merchant_mismatch")
        out_trade_no = fields.get("out_trade_no")
        if not isinstance(out_trade_no, str) or not out_trade_no:
            raise MalformedNotification(f"malformed {PROVIDER} trade: no out_trade_no")
        status = str(fields.get("trade_status", ""))
        return ProviderPayment(
            provider=PROVIDER,
            out_trade_no=out_trade_no,
            transaction_id=str(fields.get("trade_no", "")),
            amount_fen=_fen(fields.get("total_amount"), "total_amount"),
            trade_state=SUCCESS if status in PAID_STATES else status,
            success_time=str(fields.get("gmt_payment", "") or fields.get("send_pay_date", "")),
            merchant_id=str(seller_id or self.account.seller_id),
        )


def _fen(text: Any, field: str) -> int:
    try:
        return parse_yuan(text, field)
    except ValueError as exc:
        raise MalformedNotification(f"malformed {PROVIDER} {field}: {exc}") from exc


def parse_notification(body: str) -> dict[str, str]:
    """The form-encoded body as one value per name (a name given twice is refused)."""
    if len(body) > MAX_BODY:
        raise MalformedNotification(f"malformed {PROVIDER} notification: too large")
    try:
        pairs = parse_qsl(
            body, keep_blank_values=True, strict_parsing=True, encoding="utf-8", errors="strict"
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedNotification(f"malformed {PROVIDER} notification: not a form") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise MalformedNotification(f"malformed {PROVIDER} notification: {name[:40]} given twice")
        if "\x00" in name or "\x00" in value:
            raise MalformedNotification(f"malformed {PROVIDER} notification: NUL in a field")
        params[name] = value
    return params
