"""A local fake of the WeChat Pay API v3 gateway on 127.0.0.1, speaking its wire format.

It holds one merchant's identities and keys: the merchant's public key (to check each request's
``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",
serial_no="…"``, signed over ``METHOD\\nPATH?QUERY\\nTS\\nNONCE\\nBODY\\n``), the platform private
key and its public key id (to sign every answer and notification with the `Wechatpay-*`
headers), and the APIv3 key (to encrypt a notification's `resource` with AES-256-GCM).

    POST /v3/pay/transactions/jsapi                         an order → {"prepay_id"}
    GET  /v3/pay/transactions/out-trade-no/{no}?mchid=…     the order (trade_state …)
    POST /v3/pay/transactions/out-trade-no/{no}/close       204
    POST /v3/refund/domestic/refunds                        a refund (same out_refund_no: same refund)
    GET  /v3/refund/domestic/refunds/{out_refund_no}
    GET  /v3/bill/tradebill?bill_date=YYYY-MM-DD&bill_type=ALL[&tar_type=GZIP] → {"download_url"}
    GET  /v3/billdownload/file?token=…                      the statement (CSV, fields prefixed `)
    POST /fake/pay {"out_trade_no", "deliveries": 1..5}    control: the driver pays; the signed,
                                                            encrypted notification is delivered
    GET  /v1/health
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from infra.local.fake_provider import MAX_DELIVERIES, FakeServer, Reply, deliver

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
MAX_SKEW_SECONDS = 300
CHINA = timezone(timedelta(hours=8))
NOTIFY_PATH = "/v1/pay/wechat/notify"


@dataclass(frozen=True)
class WeChatMerchant:
    """What the fake knows of the merchant (and what the app's merchant account names)."""

    mchid: str
    appid: str
    merchant_serial_no: str
    public_key_id: str
    merchant_public_key: bytes  # PEM: checks the merchant's request signatures
    platform_private_key: bytes  # PEM: signs answers and notifications
    apiv3_key: str


def _load_private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def rsa_sign(private_pem: bytes, message: str) -> str:
    signature = _load_private(private_pem).sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode()


def china_time(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%dT%H:%M:%S+08:00")


def encrypt_resource(apiv3_key: str, plaintext: str, associated_data: str) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # 12 characters, as WeChat Pay's nonces are
    ciphertext = AESGCM(apiv3_key.encode()).encrypt(
        nonce.encode(), plaintext.encode(), associated_data.encode()
    )
    return {
        "original_type": associated_data,
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def signed_headers(
    private_pem: bytes,
    public_key_id: str,
    body: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The `Wechatpay-*` headers WeChat Pay puts on an answer or a notification."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nc = nonce or secrets.token_hex(16)
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nc,
        "Wechatpay-Signature": rsa_sign(private_pem, f"{ts}\n{nc}\n{body}\n"),
        "Wechatpay-Serial": public_key_id,
        "Wechatpay-Signature-Type": SIGNATURE_TYPE,
    }


def notification_body(apiv3_key: str, event_type: str, resource: dict[str, Any], summary: str) -> str:
    original_type = "refund" if event_type.startswith("REFUND") else "transaction"
    return json.dumps(
        {
            "id": str(uuid.uuid4()),
            "create_time": china_time(datetime.now(UTC)),
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": summary,
            "resource": encrypt_resource(
                apiv3_key, json.dumps(resource, ensure_ascii=False, separators=(",", ":")), original_type
            ),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


@dataclass
class _Order:
    appid: str
    mchid: str
    out_trade_no: str
    description: str
    total: int
    openid: str
    notify_url: str
    prepay_id: str
    created_at: datetime
    trade_state: str = "NOTPAY"
    transaction_id: str = ""
    success_time: str = ""
    refunded: int = 0


@dataclass
class _Refund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    created_at: datetime
    notify_url: str
    status: str = "SUCCESS"


@dataclass
class FakeWeChat:
    merchant: WeChatMerchant
    host: str = "127.0.0.1"
    port: int = 0
    orders: dict[str, _Order] = field(default_factory=dict)
    refunds: dict[str, _Refund] = field(default_factory=dict)
    # As WeChat Pay mostly does: a refund answers PROCESSING until it is settled (its REFUND.SUCCESS
    # notification, `settle_refund`); False (default): it answers SUCCESS at once.
    refunds_processing: bool = False

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._server = FakeServer("wechat", self.host, self.port, self._route)
        self.port = self._server.port

    # -- lifecycle

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def requests_seen(self) -> list[Any]:
        return self._server.requests_seen()

    # -- what the fake signs

    def _answer(self, status: int, data: dict[str, Any] | None) -> Reply:
        body = json.dumps(data, ensure_ascii=False, separators=(",", ":")) if data is not None else ""
        headers = signed_headers(self.merchant.platform_private_key, self.merchant.public_key_id, body)
        return Reply(status, body.encode(), {"Request-ID": uuid.uuid4().hex, **headers})

    def _error(self, status: int, code: str, message: str) -> Reply:
        return self._answer(status, {"code": code, "message": message})

    def notification(
        self, event_type: str, resource: dict[str, Any], summary: str = ""
    ) -> tuple[dict[str, str], str]:
        """A notification as WeChat Pay sends it: headers and body (tests tamper with them)."""
        body = notification_body(self.merchant.apiv3_key, event_type, resource, summary or event_type)
        return signed_headers(self.merchant.platform_private_key, self.merchant.public_key_id, body), body

    def payment_resource(self, out_trade_no: str) -> dict[str, Any]:
        with self._lock:
            order = self.orders[out_trade_no]
            return self._transaction(order)

    # -- the merchant's request signature

    def _authorized(self, method: str, path: str, headers: dict[str, str], body: bytes) -> str | None:
        """None when the request is signed by the merchant, else why not."""
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, params = value.partition(" ")
        if scheme != SIGNATURE_TYPE:
            return "Authorization is not WECHATPAY2-SHA256-RSA2048"
        fields: dict[str, str] = {}
        for part in params.split(","):
            name, _, quoted = part.strip().partition("=")
            fields[name] = quoted.strip('"')
        if fields.get("mchid") != self.merchant.mchid:
            return "unknown mchid"
        if fields.get("serial_no") != self.merchant.merchant_serial_no:
            return "unknown merchant certificate serial"
        stamp = fields.get("timestamp", "")
        if not stamp.isdigit() or abs(int(time.time()) - int(stamp)) > MAX_SKEW_SECONDS:
            return "timestamp outside the accepted window"
        message = f"{method}\n{path}\n{stamp}\n{fields.get('nonce_str', '')}\n{body.decode()}\n"
        key = serialization.load_pem_public_key(self.merchant.merchant_public_key)
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(
                base64.b64decode(fields.get("signature", "")),
                message.encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except (InvalidSignature, ValueError):
            return "signature does not verify"
        return None

    # -- routes

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path)
        route = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if route == "/v1/health":
            return Reply(200, b'{"status":"ok"}', {})
        if route == "/fake/pay" and method == "POST":
            return self._control_pay(body)
        if route == "/fake/refunds" and method == "POST":
            return self._control_refunds(body)
        if route == "/fake/refund/settle" and method == "POST":
            return self._control_settle(body)
        if route == "/v3/billdownload/file":
            return self._bill_file(query.get("token", ""))
        why = self._authorized(method, path, headers, body)
        if why:
            return self._error(401, "SIGN_ERROR", why)
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return self._error(400, "PARAM_ERROR", "body is not JSON")
        with self._lock:
            if route == "/v3/pay/transactions/jsapi" and method == "POST":
                return self._create(data)
            prefix = "/v3/pay/transactions/out-trade-no/"
            if route.startswith(prefix):
                rest = route[len(prefix) :]
                if rest.endswith("/close") and method == "POST":
                    return self._close(rest.removesuffix("/close"))
                if method == "GET":
                    return self._query(rest, query.get("mchid"))
            if route == "/v3/refund/domestic/refunds" and method == "POST":
                return self._refund(data)
            if route.startswith("/v3/refund/domestic/refunds/") and method == "GET":
                refund = self.refunds.get(route.rsplit("/", 1)[1])
                if refund is None:
                    return self._error(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
                return self._answer(200, self._refund_view(refund))
            if route == "/v3/bill/tradebill" and method == "GET":
                return self._tradebill(query)
        return self._error(404, "NOT_FOUND", f"no such API {route}")

    def _create(self, data: dict[str, Any]) -> Reply:
        amount = data.get("amount") or {}
        total = amount.get("total")
        if data.get("appid") != self.merchant.appid or data.get("mchid") != self.merchant.mchid:
            return self._error(400, "PARAM_ERROR", "appid和mch_id不匹配")
        if (
            not isinstance(total, int)
            or isinstance(total, bool)
            or total <= 0
            or amount.get("currency", "CNY") != "CNY"
        ):
            return self._error(400, "PARAM_ERROR", "amount.total must be a positive integer (CNY fen)")
        if not (data.get("payer") or {}).get("openid"):
            return self._error(400, "PARAM_ERROR", "payer.openid is required")
        no = str(data.get("out_trade_no") or "")
        known = self.orders.get(no)
        if known is not None:
            if known.total != total:
                return self._error(400, "INVALID_REQUEST", "201 商户订单号重复")
            if known.trade_state == "SUCCESS":
                return self._error(400, "ORDERPAID", "该订单已支付")
            return self._answer(200, {"prepay_id": known.prepay_id})
        order = _Order(
            appid=self.merchant.appid,
            mchid=self.merchant.mchid,
            out_trade_no=no,
            description=str(data.get("description", "")),
            total=total,
            openid=str(data["payer"]["openid"]),
            notify_url=str(data.get("notify_url", "")),
            prepay_id="wx" + secrets.token_hex(16),
            created_at=datetime.now(UTC),
        )
        self.orders[no] = order
        return self._answer(200, {"prepay_id": order.prepay_id})

    def _transaction(self, order: _Order) -> dict[str, Any]:
        view: dict[str, Any] = {
            "appid": order.appid,
            "mchid": order.mchid,
            "out_trade_no": order.out_trade_no,
            "trade_type": "JSAPI",
            "trade_state": order.trade_state,
            "trade_state_desc": {"SUCCESS": "支付成功", "NOTPAY": "未支付", "CLOSED": "已关闭"}.get(
                order.trade_state, order.trade_state
            ),
            "payer": {"openid": order.openid},
            "amount": {"total": order.total, "currency": "CNY"},
        }
        if order.transaction_id:
            view.update(
                transaction_id=order.transaction_id,
                bank_type="OTHERS",
                success_time=order.success_time,
                attach="",
            )
            view["amount"].update(payer_total=order.total, payer_currency="CNY")
        return view

    def _query(self, no: str, mchid: str | None) -> Reply:
        order = self.orders.get(no)
        if order is None or mchid != self.merchant.mchid:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        return self._answer(200, self._transaction(order))

    def _close(self, no: str) -> Reply:
        order = self.orders.get(no)
        if order is None:
            return self._error(404, "ORDER_NOT_EXIST", "订单不存在")
        if order.trade_state == "SUCCESS":
            return self._error(400, "ORDERPAID", "订单已支付")
        order.trade_state = "CLOSED"
        return self._answer(204, None)

    def pay(self, out_trade_no: str, deliveries: int = 1) -> dict[str, Any]:
        """The driver pays the order: it is SUCCESS and its notification is delivered."""
        resource = self.mark_paid(out_trade_no)
        url = self.orders[out_trade_no].notify_url

        def headers() -> dict[str, str]:
            return {"Content-Type": "application/json", **self._signed_for_delivery(body)}

        body = notification_body(self.merchant.apiv3_key, "TRANSACTION.SUCCESS", resource, "支付成功")
        notified = deliver(url, body.encode(), headers, deliveries)
        return {"transaction_id": resource["transaction_id"], "notified": notified}

    def mark_paid(self, out_trade_no: str) -> dict[str, Any]:
        """The order is paid (no notification yet): what its notification's resource says."""
        with self._lock:
            order = self.orders[out_trade_no]
            if order.trade_state not in ("NOTPAY", "SUCCESS"):
                raise ValueError(f"order {out_trade_no} is {order.trade_state}")
            if order.trade_state == "NOTPAY":
                order.trade_state = "SUCCESS"
                order.transaction_id = "42000" + secrets.token_hex(12)
                order.success_time = china_time(datetime.now(UTC))
            return self._transaction(order)

    def _signed_for_delivery(self, body: str) -> dict[str, str]:
        return signed_headers(self.merchant.platform_private_key, self.merchant.public_key_id, body)

    def _control_pay(self, raw: bytes) -> Reply:
        try:
            data = json.loads(raw or b"{}")
            no, deliveries = data["out_trade_no"], data.get("deliveries", 1)
            if not isinstance(deliveries, int) or not 1 <= deliveries <= MAX_DELIVERIES:
                raise ValueError(f"deliveries must be 1..{MAX_DELIVERIES}")
            if no not in self.orders:
                return Reply(404, json.dumps({"code": "ORDER_NOT_EXIST", "message": str(no)}).encode(), {})
            result = self.pay(no, deliveries)
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, json.dumps({"code": "PARAM_ERROR", "message": str(exc)}).encode(), {})
        return Reply(200, json.dumps(result).encode(), {})

    def settle_refund(self, out_refund_no: str, deliveries: int = 1) -> list[int]:
        """A processing refund succeeds, and its notification is delivered."""
        with self._lock:
            self.refunds[out_refund_no].status = "SUCCESS"
        return self.refund_notification(out_refund_no, deliveries)

    def _control_refunds(self, raw: bytes) -> Reply:
        """`{"processing": true}`: refunds answer PROCESSING until settled."""
        try:
            self.refunds_processing = bool(json.loads(raw or b"{}")["processing"])
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, json.dumps({"code": "PARAM_ERROR", "message": str(exc)}).encode(), {})
        return Reply(200, json.dumps({"processing": self.refunds_processing}).encode(), {})

    def _control_settle(self, raw: bytes) -> Reply:
        """`{"out_refund_no", "deliveries"}`: the refund succeeds; its notification is delivered
        (404 while no such refund was asked)."""
        try:
            data = json.loads(raw or b"{}")
            no, deliveries = str(data["out_refund_no"]), data.get("deliveries", 1)
            if not isinstance(deliveries, int) or not 1 <= deliveries <= MAX_DELIVERIES:
                raise ValueError(f"deliveries must be 1..{MAX_DELIVERIES}")
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, json.dumps({"code": "PARAM_ERROR", "message": str(exc)}).encode(), {})
        if no not in self.refunds:
            return Reply(404, json.dumps({"code": "RESOURCE_NOT_EXISTS", "message": no}).encode(), {})
        notified = self.settle_refund(no, deliveries)
        return Reply(
            200, json.dumps({"refund_id": self.refunds[no].refund_id, "notified": notified}).encode(), {}
        )

    def _refund_view(self, refund: _Refund) -> dict[str, Any]:
        return {
            "refund_id": refund.refund_id,
            "out_refund_no": refund.out_refund_no,
            "transaction_id": refund.transaction_id,
            "out_trade_no": refund.out_trade_no,
            "channel": "ORIGINAL",
            "user_received_account": "支付用户零钱",
            "success_time": china_time(refund.created_at),
            "create_time": china_time(refund.created_at),
            "status": refund.status,
            "refund_status": refund.status,
            "funds_account": "AVAILABLE",
            "amount": {
                "total": refund.total,
                "refund": refund.refund,
                "payer_total": refund.total,
                "payer_refund": refund.refund,
                "settlement_refund": refund.refund,
                "settlement_total": refund.total,
                "discount_refund": 0,
                "currency": "CNY",
            },
        }

    def _refund(self, data: dict[str, Any]) -> Reply:
        number = str(data.get("out_refund_no") or "")
        amount = data.get("amount") or {}
        order = self.orders.get(str(data.get("out_trade_no") or ""))
        if not number:
            return self._error(400, "PARAM_ERROR", "out_refund_no is required")
        known = self.refunds.get(number)
        if known is not None:  # the same refund number is the same refund
            if known.refund != amount.get("refund"):
                return self._error(400, "INVALID_REQUEST", "同一退款单号金额不一致")
            return self._answer(200, self._refund_view(known))
        if order is None or order.trade_state not in ("SUCCESS", "REFUND"):
            return self._error(404, "RESOURCE_NOT_EXISTS", "订单不存在或未支付")
        refund_fen, total = amount.get("refund"), amount.get("total")
        if not isinstance(refund_fen, int) or refund_fen <= 0 or total != order.total:
            return self._error(400, "PARAM_ERROR", "amount.refund / amount.total invalid")
        if order.refunded + refund_fen > order.total:
            return self._error(403, "NOT_ENOUGH", "退款金额超过订单可退金额")
        refund = _Refund(
            out_refund_no=number,
            refund_id="50000" + secrets.token_hex(12),
            out_trade_no=order.out_trade_no,
            transaction_id=order.transaction_id,
            refund=refund_fen,
            total=order.total,
            created_at=datetime.now(UTC),
            notify_url=str(data.get("notify_url") or ""),
            status="PROCESSING" if self.refunds_processing else "SUCCESS",
        )
        self.refunds[number] = refund
        order.refunded += refund_fen
        order.trade_state = "REFUND"
        return self._answer(200, self._refund_view(refund))

    def refund_notification(self, out_refund_no: str, deliveries: int = 1) -> list[int]:
        """Deliver the refund's REFUND.SUCCESS notification to the notify_url it was asked with."""
        _headers, body = self.refund_note(out_refund_no)
        return deliver(
            self.refunds[out_refund_no].notify_url,
            body.encode(),
            lambda: {"Content-Type": "application/json", **self._signed_for_delivery(body)},
            deliveries,
        )

    def refund_note(self, out_refund_no: str) -> tuple[dict[str, str], str]:
        """The refund's REFUND.SUCCESS notification (headers, body), signed and encrypted."""
        with self._lock:
            refund = self.refunds[out_refund_no]
            view = self._refund_view(refund)
        resource = {
            "mchid": self.merchant.mchid,
            "out_trade_no": view["out_trade_no"],
            "transaction_id": view["transaction_id"],
            "out_refund_no": view["out_refund_no"],
            "refund_id": view["refund_id"],
            "refund_status": view["status"],
            "success_time": view["success_time"],
            "user_received_account": view["user_received_account"],
            "amount": {k: view["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")},
        }
        body = notification_body(self.merchant.apiv3_key, "REFUND.SUCCESS", resource, "退款成功")
        return {"Content-Type": "application/json", **self._signed_for_delivery(body)}, body

    # -- the daily statement (交易账单)

    def _tradebill(self, query: dict[str, str]) -> Reply:
        day = query.get("bill_date", "")
        try:
            datetime.strptime(day, "%Y-%m-%d")
        except ValueError:
            return self._error(400, "PARAM_ERROR", "bill_date must be YYYY-MM-DD")
        token = f"{day}.{query.get('tar_type', '')}"
        content = self._bill_bytes(token)
        return self._answer(
            200,
            {
                "hash_type": "SHA1",
                "hash_value": hashlib.sha1(content, usedforsecurity=False).hexdigest(),
                "download_url": f"{self.url}/v3/billdownload/file?token={token}",
            },
        )

    def _bill_bytes(self, token: str) -> bytes:
        day, _, tar_type = token.partition(".")
        data = statement_csv(self, day).encode("utf-8")
        return gzip.compress(data) if tar_type == "GZIP" else data

    def _bill_file(self, token: str) -> Reply:
        try:
            content = self._bill_bytes(token)
        except ValueError:
            return Reply(404, b'{"code":"NO_STATEMENT_EXIST","message":"no bill"}', {})
        return Reply(200, content, {"Content-Type": "application/octet-stream"})


TRADEBILL_HEADER = (
    "交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
    "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,"
    "商户数据包,手续费,费率,订单金额,申请退款金额,费率备注"
)
SUMMARY_HEADER = (
    "总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额"
)


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def statement_csv(fake: FakeWeChat, day: str) -> str:
    """The tradebill (bill_type ALL) for one China-time day: every field prefixed with a backquote,
    a refund as its own row, and the summary lines at the end."""
    datetime.strptime(day, "%Y-%m-%d")
    rows: list[list[str]] = []
    paid = refunded = fees = 0
    with fake._lock:
        orders = list(fake.orders.values())
        refunds = list(fake.refunds.values())
    for order in orders:
        if not order.success_time.startswith(day):
            continue
        fee = order.total * 6 // 1000  # 0.60 %
        paid += order.total
        fees += fee
        rows.append([
            order.success_time.replace("T", " ")[:19], order.appid, order.mchid, "0", "",
            order.transaction_id, order.out_trade_no, order.openid, "JSAPI", "SUCCESS", "OTHERS",
            "CNY", _yuan(order.total), "0.00", "0", "0", "0.00", "0.00", "", "", order.description,
            "", _yuan(fee), "0.60%", _yuan(order.total), "0.00", "",
        ])  # fmt: skip
    for refund in refunds:
        when = china_time(refund.created_at)
        if not when.startswith(day):
            continue
        order = fake.orders[refund.out_trade_no]
        refunded += refund.refund
        rows.append([
            when.replace("T", " ")[:19], order.appid, order.mchid, "0", "", refund.transaction_id,
            refund.out_trade_no, order.openid, "JSAPI", "REFUND", "OTHERS", "CNY", "0.00", "0.00",
            refund.refund_id, refund.out_refund_no, _yuan(refund.refund), "0.00", "ORIGINAL",
            "SUCCESS", order.description, "", "0.00", "0.60%", _yuan(order.total),
            _yuan(refund.refund), "",
        ])  # fmt: skip
    out = io.StringIO()
    out.write(TRADEBILL_HEADER + "\r\n")
    for row in rows:
        out.write(",".join("`" + cell for cell in row) + "\r\n")
    out.write(SUMMARY_HEADER + "\r\n")
    summary = [
        str(len(rows)),
        _yuan(paid),
        _yuan(refunded),
        "0.00",
        _yuan(fees),
        _yuan(paid),
        _yuan(refunded),
    ]
    out.write(",".join("`" + cell for cell in summary) + "\r\n")
    return out.getvalue()


def load_merchant(directory: Path, mchid: str, appid: str, serial: str, public_key_id: str) -> WeChatMerchant:
    """The fake's view of the merchant from the keys the local stack generated."""
    return WeChatMerchant(
        mchid=mchid,
        appid=appid,
        merchant_serial_no=serial,
        public_key_id=public_key_id,
        merchant_public_key=(directory / "merchant.pub.pem").read_bytes(),
        platform_private_key=(directory / "platform.pem").read_bytes(),
        apiv3_key=(directory / "apiv3.key").read_text().strip(),
    )
