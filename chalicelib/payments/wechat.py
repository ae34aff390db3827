"""WeChat Pay API v3 (微信支付 APIv3), direct merchant, public-key mode, through `wechatpayv3`.

What the library does: signs each request (`Authorization: WECHATPAY2-SHA256-RSA2048 mchid=…,
nonce_str=…,signature=…,timestamp=…,serial_no=…` over ``METHOD\\nPATH\\nTS\\nNONCE\\nBODY\\n`` with
the merchant key), verifies the signature of the gateway's answers and of notifications
(``TS\\nNONCE\\nBODY\\n`` with the platform public key), decrypts a notification's AES-256-GCM
`resource` with the APIv3 key and signs the mini-program's `wx.requestPayment` bundle.

What it does not, and this adapter does:
- a notification whose `Wechatpay-Serial` is not the configured public key id makes the library
  download certificates from the gateway (`Core._update_certificates`): an unauthenticated caller
  could make us call out on every request. The serial is compared first and anything else is
  refused before the library sees it;
- it does not look at `Wechatpay-Timestamp`: a notification more than `MAX_SKEW_SECONDS` from
  `now` is refused (a captured notification cannot be replayed later);
- it returns whatever the decrypted resource says: appid, mchid, out_trade_no and the amount
  (total, CNY) are checked against our order here.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import msgspec

from chalicelib.payments.channel import (
    ProviderFailed,
    ProviderPayment,
    ProviderRefund,
    ProviderRefused,
    mismatch,
    unknown,
)
from chalicelib.payments.sandbox import MalformedNotification, SignatureError

PROVIDER = "wechat"
GATEWAY = "https://api.mch.weixin.qq.com"
SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
CURRENCY = "CNY"
TIMEOUT = (3, 10)  # seconds to connect, to read
CHINA = timezone(timedelta(hours=8))
HEADERS = (
    "Wechatpay-Serial",
    "Wechatpay-Signature",
    "Wechatpay-Timestamp",
    "Wechatpay-Nonce",
    "Wechatpay-Signature-Type",
)
PAYMENT_EVENT = "TRANSACTION.SUCCESS"
REFUND_EVENTS = ("REFUND.SUCCESS", "REFUND.ABNORMAL", "REFUND.CLOSED")


@dataclass(frozen=True)
class WeChatAccount:
    """A merchant's identifiers and keys (PEM text; the APIv3 key is 32 characters)."""

    mchid: str
    appid: str
    merchant_serial_no: str  # the merchant API certificate's serial: names the key we sign with
    public_key_id: str  # the platform public key's id (PUB_KEY_ID_…): `Wechatpay-Serial`
    private_key: str  # the merchant's private key
    public_key: str  # WeChat Pay's platform public key
    apiv3_key: str


def set_gateway(client: Any, base_url: str) -> None:
    """The one place that reaches into wechatpayv3: its base URL is the private `Core._gate_way`
    (used for every request and to cut the gateway off bill download URLs). A library upgrade that
    moves it fails here (and in its test) instead of silently calling the real gateway."""
    core = getattr(client, "_core", None)
    if core is None or not isinstance(getattr(core, "_gate_way", None), str):
        raise RuntimeError("wechatpayv3 no longer keeps its base URL in Core._gate_way: see wechat.py")
    core._gate_way = base_url.rstrip("/")


def gateway_of(client: Any) -> str:
    return str(client._core._gate_way)


# -- notification bodies (after decryption), typed; providers add fields, so unknown ones pass


class _Amount(msgspec.Struct):
    total: int
    currency: str = ""
    payer_total: int | None = None


class _Transaction(msgspec.Struct):
    appid: str
    mchid: str
    out_trade_no: str
    trade_state: str
    amount: _Amount
    transaction_id: str = ""  # none before the order is paid
    success_time: str = ""


class _RefundAmount(msgspec.Struct):
    total: int
    refund: int
    payer_total: int | None = None
    payer_refund: int | None = None


class _Refund(msgspec.Struct):
    mchid: str
    out_trade_no: str
    transaction_id: str
    out_refund_no: str
    refund_id: str
    refund_status: str
    amount: _RefundAmount
    success_time: str = ""


def _decode(data: str | bytes, kind: type[msgspec.Struct]) -> Any:
    try:
        return msgspec.json.decode(data, type=kind, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError) as exc:
        raise MalformedNotification(f"malformed {PROVIDER} resource: {exc}") from exc


def wechat_time(value: datetime) -> str:
    """RFC 3339 in China time, as WeChat Pay writes and reads times: 2026-12-01T10:00:00+08:00."""
    return value.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S+08:00")


class WeChatPayAdapter:
    """One merchant account's client. No I/O on construction (public-key mode: the library
    downloads no certificates)."""

    def __init__(self, account: WeChatAccount, gateway_url: str = GATEWAY, notify_url: str | None = None):
        from wechatpayv3 import WeChatPay, WeChatPayType

        self.account = account
        self.notify_url = notify_url
        self._client = WeChatPay(
            wechatpay_type=WeChatPayType.MINIPROG,
            mchid=account.mchid,
            private_key=account.private_key,
            cert_serial_no=account.merchant_serial_no,
            appid=account.appid,
            apiv3_key=account.apiv3_key,
            notify_url=notify_url,
            public_key=account.public_key,
            public_key_id=account.public_key_id,
            timeout=TIMEOUT,
        )
        set_gateway(self._client, gateway_url)

    @property
    def gateway_url(self) -> str:
        return gateway_of(self._client)

    # -- calls to the gateway

    def _call(self, what: str, call: Callable[[], tuple[int, Any]]) -> tuple[int, Any]:
        import requests

        try:
            code, text = call()
        except requests.RequestException as exc:
            raise ProviderFailed(f"{PROVIDER} {what}: {type(exc).__name__}") from exc
        except Exception as exc:  # the library raises bare Exception for a bad answer signature
            raise ProviderFailed(f"{PROVIDER} {what}: {exc}") from exc
        if code >= 500:
            raise ProviderFailed(f"{PROVIDER} {what}: the gateway answered {code}")
        if code >= 400:
            try:
                answer = json.loads(text)
                detail = f"{answer.get('code')}: {answer.get('message')}"
            except (ValueError, AttributeError):
                detail = str(code)
            raise ProviderRefused(f"{PROVIDER} {what} refused ({detail})", "provider_refused")
        return code, text

    def _json(self, what: str, call: Callable[[], tuple[int, Any]]) -> dict[str, Any]:
        _code, text = self._call(what, call)
        try:
            answer = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ProviderFailed(f"{PROVIDER} {what}: the answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise ProviderFailed(f"{PROVIDER} {what}: the answer is not an object")
        return answer

    def mini_program_order(
        self,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        openid: str,
        expires_at: datetime,
        now: datetime,
    ) -> dict[str, Any]:
        """A JSAPI / mini-program order: the prepay id and the signed bundle the mini-program
        passes to `wx.requestPayment` (signed with the merchant key over
        ``appId\\ntimeStamp\\nnonceStr\\npackage\\n``)."""
        from wechatpayv3 import WeChatPayType

        answer = self._json(
            "order",
            lambda: self._client.pay(
                description=description,
                out_trade_no=out_trade_no,
                amount={"total": amount_fen, "currency": CURRENCY},
                payer={"openid": openid},
                time_expire=wechat_time(expires_at),
                pay_type=WeChatPayType.MINIPROG,
            ),
        )
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise ProviderFailed(f"{PROVIDER} order: no prepay_id in the answer")
        timestamp, nonce, package = str(int(now.timestamp())), secrets.token_hex(16), f"prepay_id={prepay_id}"
        pay_sign = self._client.sign([self.account.appid, timestamp, nonce, package])
        return {
            "provider": PROVIDER,
            "out_trade_no": out_trade_no,
            "prepay_id": prepay_id,
            "pay_params": {
                "appId": self.account.appid,
                "timeStamp": timestamp,
                "nonceStr": nonce,
                "package": package,
                "signType": "RSA",
                "paySign": pay_sign,
            },
        }

    def query(self, out_trade_no: str) -> ProviderPayment:
        """The order as the gateway knows it (trade_state SUCCESS, NOTPAY, CLOSED, REFUND …)."""
        answer = self._json("query", lambda: self._client.query(out_trade_no=out_trade_no))
        tx = _decode(json.dumps(answer), _Transaction)
        self._check_merchant(tx.appid, tx.mchid)
        return _payment(tx)

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order (the gateway answers 204; closing twice is fine)."""
        self._call("close", lambda: self._client.close(out_trade_no=out_trade_no))

    def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        refund_fen: int,
        total_fen: int,
        reason: str = "",
        notify_url: str | None = None,
    ) -> ProviderRefund:
        """Ask for a refund. `out_refund_no` is our refund id: asking again with it is the same
        refund at the gateway (never a second one). Its notification goes to `notify_url` (the
        refund notify route; by default the adapter's)."""
        answer = self._json(
            "refund",
            lambda: self._client.refund(
                out_refund_no=out_refund_no,
                amount={"refund": refund_fen, "total": total_fen, "currency": CURRENCY},
                out_trade_no=out_trade_no,
                reason=reason or None,
                notify_url=notify_url or self.notify_url,
            ),
        )
        return _refund(_decode(json.dumps({"mchid": self.account.mchid, **answer}), _Refund))

    def query_refund(self, out_refund_no: str) -> ProviderRefund:
        answer = self._json("refund query", lambda: self._client.query_refund(out_refund_no=out_refund_no))
        return _refund(_decode(json.dumps({"mchid": self.account.mchid, **answer}), _Refund))

    def trade_bill(self, bill_date: str) -> bytes:
        """The day's statement (交易账单, all trades) as the CSV bytes the gateway serves."""
        import gzip

        answer = self._json(
            "trade bill", lambda: self._client.trade_bill(bill_date=bill_date, bill_type="ALL")
        )
        url = answer.get("download_url")
        if not isinstance(url, str):
            raise ProviderFailed(f"{PROVIDER} trade bill: no download_url")
        _code, content = self._call("bill download", lambda: self._client.download_bill(url))
        data = content if isinstance(content, bytes) else str(content).encode()
        return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data

    # -- notifications

    def _authentic(self, headers: Mapping[str, Any], body: str, now: datetime) -> dict[str, Any]:
        """Serial, freshness, then the library's signature check and resource decryption."""
        wanted = {name: _header(headers, name) for name in HEADERS}
        if wanted["Wechatpay-Serial"] != self.account.public_key_id:
            # Checked before the library: for any other serial it would call the gateway.
            raise SignatureError("Wechatpay-Serial is not this merchant's platform public key id")
        if wanted["Wechatpay-Signature-Type"] not in ("", SIGNATURE_TYPE):
            raise SignatureError(f"unsupported signature type {wanted['Wechatpay-Signature-Type'][:40]}")
        wanted["Wechatpay-Signature-Type"] = SIGNATURE_TYPE
        stamp = wanted["Wechatpay-Timestamp"]
        if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
            raise SignatureError("Wechatpay-Timestamp is not unix seconds")
        if abs(int(now.timestamp()) - int(stamp)) > MAX_SKEW_SECONDS:
            raise SignatureError("Wechatpay-Timestamp is outside the accepted window")
        if not wanted["Wechatpay-Signature"] or not wanted["Wechatpay-Nonce"]:
            raise SignatureError("missing Wechatpay-Signature or Wechatpay-Nonce")
        try:
            result = self._client.callback(wanted, body)
        except Exception as exc:  # malformed base64 / JSON inside a signed body, an odd algorithm
            raise SignatureError(f"notification does not verify: {type(exc).__name__}") from exc
        if not isinstance(result, dict) or not isinstance(result.get("resource"), dict):
            raise SignatureError("signature or resource does not verify")
        return result

    def verify_payment(
        self, headers: Mapping[str, Any], body: str, now: datetime, amount_of: Callable[[str], int | None]
    ) -> ProviderPayment:
        """A payment notification (TRANSACTION.SUCCESS), authenticated, decrypted and matched
        with our order: `amount_of(out_trade_no)` is the order's amount in fen (None: unknown)."""
        note = self._authentic(headers, body, now)
        if note.get("event_type") != PAYMENT_EVENT:
            raise MalformedNotification(f"not a payment notification: {str(note.get('event_type'))[:40]}")
        tx = _decode(json.dumps(note["resource"]), _Transaction)
        self._check_merchant(tx.appid, tx.mchid)
        expected = amount_of(tx.out_trade_no)
        if expected is None:
            raise unknown(tx.out_trade_no)
        if tx.amount.currency != CURRENCY or tx.amount.total != expected:
            raise mismatch(
                f"notified {tx.amount.total} {tx.amount.currency or '?'} for an order of {expected} fen CNY",
                "amount_mismatch",
            )
        return _payment(tx)

    def verify_refund(
        self, headers: Mapping[str, Any], body: str, now: datetime, refund_of: Callable[[str], int | None]
    ) -> ProviderRefund:
        """A refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED), checked like a payment's:
        `refund_of(out_refund_no)` is the refund's amount in fen (None: unknown)."""
        note = self._authentic(headers, body, now)
        if note.get("event_type") not in REFUND_EVENTS:
            raise MalformedNotification(f"not a refund notification: {str(note.get('event_type'))[:40]}")
        refund = _decode(json.dumps(note["resource"]), _Refund)
        if refund.mchid != self.account.mchid:
            raise mismatch("the notification is for another merchant", "merchant_mismatch")
        expected = refund_of(refund.out_refund_no)
        if expected is None:
            raise unknown(refund.out_refund_no, "unknown_refund")
        if refund.amount.refund != expected:
            raise mismatch(
                f"notified refund {refund.amount.refund} fen for a refund of {expected} fen",
                "amount_mismatch",
            )
        return _refund(refund)

    def _check_merchant(self, appid: str, mchid: str) -> None:
        if appid != self.account.appid or mchid != self.account.mchid:
            raise mismatch("the notification is for another merchant or app", "merchant_mismatch")


def _header(headers: Mapping[str, Any], name: str) -> str:
    value = headers.get(name)
    if value is None:
        value = headers.get(name.lower())
    return str(value) if value is not None else ""


def _payment(tx: _Transaction) -> ProviderPayment:
    return ProviderPayment(
        provider=PROVIDER,
        out_trade_no=tx.out_trade_no,
        transaction_id=tx.transaction_id,
        amount_fen=tx.amount.total,
        trade_state=tx.trade_state,  # SUCCESS, NOTPAY, CLOSED, REFUND, PAYERROR …
        success_time=tx.success_time,
        merchant_id=tx.mchid,
    )


def _refund(refund: _Refund) -> ProviderRefund:
    return ProviderRefund(
        provider=PROVIDER,
        out_trade_no=refund.out_trade_no,
        out_refund_no=refund.out_refund_no,
        refund_id=refund.refund_id,
        refund_fen=refund.amount.refund,
        status=refund.refund_status,
        success_time=refund.success_time,
    )
