"""A local fake of the Alipay open-API gateway on 127.0.0.1, speaking its wire format.

It holds one app's identities and keys: the app's public key (each call's parameters are signed
by the app with RSA2 over the sorted ``k=v`` pairs joined by ``&``, `sign` left out) and the
"Alipay" private key (signs each answer over the exact text of its `*_response` object, and each
notification over its sorted parameters without `sign` and `sign_type`).

    GET|POST /gateway.do?method=…&app_id=…&biz_content=…&sign=…   (the SDK sends a GET)
      alipay.trade.create, alipay.trade.query, alipay.trade.close, alipay.trade.refund
      (same out_request_no: same refund, `fund_change: N`), alipay.trade.fastpay.refund.query,
      alipay.data.dataservice.bill.downloadurl.query
    GET  /fake/bill/{YYYY-MM-DD}.zip        the day's bill: a zip of GBK CSV, Alipay's layout
    POST /fake/pay {"out_trade_no", "deliveries": 1..5}   control: the driver pays; the signed
                                                          notification (a form POST) is delivered
    GET  /v1/health
"""

from __future__ import annotations

import base64
import io
import json
import secrets
import threading
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from infra.local.fake_provider import MAX_DELIVERIES, FakeServer, Reply, deliver

CHINA = timezone(timedelta(hours=8))
NOTIFY_PATH = "/v1/pay/alipay/notify"


@dataclass(frozen=True)
class AlipayApp:
    app_id: str
    seller_id: str
    app_public_key: bytes  # PEM: checks the app's signatures
    alipay_private_key: bytes  # PEM: signs answers and notifications


def rsa2_sign(private_pem: bytes, text: str) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def signed_text(params: dict[str, str], leave_out: tuple[str, ...]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k not in leave_out)


def china_time(value: datetime) -> str:
    return value.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def _fen(text: str) -> int:
    whole, _, cents = text.partition(".")
    if not whole.isdigit() or (cents and not (cents.isdigit() and len(cents) <= 2)):
        raise ValueError(f"not an amount: {text!r}")
    return int(whole) * 100 + int(cents.ljust(2, "0") or 0)


def notification_form(private_pem: bytes, params: dict[str, str]) -> str:
    """A notification body as Alipay posts it: the fields, `sign_type` RSA2 and `sign` over the
    sorted fields without those two."""
    fields = {**params, "sign_type": "RSA2"}
    fields["sign"] = rsa2_sign(private_pem, signed_text(fields, ("sign", "sign_type")))
    return urlencode(fields)


@dataclass
class _Trade:
    out_trade_no: str
    trade_no: str
    total: int
    subject: str
    buyer_id: str
    notify_url: str
    created_at: datetime
    status: str = "WAIT_BUYER_PAY"
    paid_at: datetime | None = None
    refunded: int = 0


@dataclass
class _Refund:
    out_request_no: str
    out_trade_no: str
    amount: int
    at: datetime


@dataclass
class FakeAlipay:
    app: AlipayApp
    host: str = "127.0.0.1"
    port: int = 0
    trades: dict[str, _Trade] = field(default_factory=dict)
    refunds: dict[tuple[str, str], _Refund] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._server = FakeServer("alipay", self.host, self.port, self._route)
        self.port = self._server.port

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def gateway_url(self) -> str:
        return f"{self.url}/gateway.do"

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    def requests_seen(self) -> list[Any]:
        return self._server.requests_seen()

    # -- answers

    def _answer(self, method: str, data: dict[str, Any]) -> Reply:
        inner = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        sign = rsa2_sign(self.app.alipay_private_key, inner)
        name = method.replace(".", "_") + "_response"
        return Reply(
            200, f'{{"{name}":{inner},"sign":"{sign}"}}'.encode(), {"Content-Type": "text/html;charset=utf-8"}
        )

    def _failed(self, method: str, sub_code: str, sub_msg: str, code: str = "40004") -> Reply:
        msg = {"40004": "Business Failed", "40002": "Invalid Arguments"}.get(code, "Failed")
        return self._answer(method, {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg})

    def notification(self, params: dict[str, str]) -> str:
        return notification_form(self.app.alipay_private_key, params)

    def trade_fields(self, out_trade_no: str) -> dict[str, str]:
        """What Alipay's notification says of a trade (tests change these and re-sign)."""
        with self._lock:
            trade = self.trades[out_trade_no]
            return self._notify_fields(trade)

    def _notify_fields(self, trade: _Trade) -> dict[str, str]:
        now = datetime.now(UTC)
        return {
            "notify_time": china_time(now),
            "notify_type": "trade_status_sync",
            "notify_id": secrets.token_hex(16),
            "app_id": self.app.app_id,
            "charset": "utf-8",
            "version": "1.0",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_id": trade.buyer_id,
            "seller_id": self.app.seller_id,
            "trade_status": trade.status,
            "total_amount": _yuan(trade.total),
            "receipt_amount": _yuan(trade.total),
            "buyer_pay_amount": _yuan(trade.total),
            "invoice_amount": _yuan(trade.total),
            "subject": trade.subject,
            "gmt_create": china_time(trade.created_at),
            "gmt_payment": china_time(trade.paid_at or now),
        }

    # -- the app's signature

    def _verified_params(self, method: str, path: str, body: bytes) -> dict[str, str] | str:
        query = urlsplit(path).query
        raw = query if method == "GET" else body.decode("utf-8", errors="replace")
        params: dict[str, str] = {}
        for name, value in parse_qsl(raw, keep_blank_values=True):
            params[name] = value
        sign = params.pop("sign", "")
        if params.get("app_id") != self.app.app_id:
            return "isv.invalid-app-id"
        if params.get("sign_type") != "RSA2" or not sign:
            return "isv.invalid-signature-type"
        key = serialization.load_pem_public_key(self.app.app_public_key)
        assert isinstance(key, rsa.RSAPublicKey)
        try:
            key.verify(
                base64.b64decode(sign), signed_text(params, ()).encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        except (InvalidSignature, ValueError):
            return "isv.invalid-signature"
        return params

    # -- routes

    def _route(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        route = urlsplit(path).path
        if route == "/v1/health":
            return Reply(200, b'{"status":"ok"}', {})
        if route == "/fake/pay" and method == "POST":
            return self._control_pay(body)
        if route.startswith("/fake/bill/") and route.endswith(".zip"):
            return self._bill(route.removeprefix("/fake/bill/").removesuffix(".zip"))
        if route != "/gateway.do":
            return Reply(404, b'{"code":"not_found"}', {})
        params = self._verified_params(method, path, body)
        if isinstance(params, str):  # unsigned, as Alipay answers a call it cannot attribute
            error = {"code": "40002", "msg": "Invalid Arguments", "sub_code": params, "sub_msg": "验签出错"}
            return Reply(200, json.dumps({"error_response": error}).encode(), {})
        api = params.get("method", "")
        try:
            biz = json.loads(params.get("biz_content") or "{}")
        except ValueError:
            return self._failed(api, "isv.invalid-parameter", "biz_content is not JSON", "40002")
        with self._lock:
            if api == "alipay.trade.create":
                return self._create(api, biz, params.get("notify_url", ""))
            if api == "alipay.trade.query":
                trade = self.trades.get(str(biz.get("out_trade_no")))
                if trade is None:
                    return self._failed(api, "ACQ.TRADE_NOT_EXIST", "交易不存在")
                return self._answer(api, self._query_view(trade))
            if api == "alipay.trade.close":
                return self._close(api, biz)
            if api == "alipay.trade.refund":
                return self._refund(api, biz)
            if api == "alipay.trade.fastpay.refund.query":
                return self._refund_query(api, biz)
            if api == "alipay.data.dataservice.bill.downloadurl.query":
                day = str(biz.get("bill_date", ""))
                return self._answer(
                    api,
                    {
                        "code": "10000",
                        "msg": "Success",
                        "bill_download_url": f"{self.url}/fake/bill/{day}.zip",
                    },
                )
        return self._failed(api, "isv.invalid-method", f"不存在的方法名 {api[:60]}", "40002")

    def _create(self, api: str, biz: dict[str, Any], notify_url: str) -> Reply:
        no = str(biz.get("out_trade_no") or "")
        try:
            total = _fen(str(biz.get("total_amount", "")))
        except ValueError:
            return self._failed(api, "ACQ.INVALID_PARAMETER", "total_amount 不合法", "40004")
        if not no or total <= 0:
            return self._failed(api, "ACQ.INVALID_PARAMETER", "参数无效")
        if not biz.get("buyer_id") and not biz.get("buyer_open_id"):
            return self._failed(api, "ACQ.INVALID_PARAMETER", "buyer_id / buyer_open_id 必填")
        if biz.get("seller_id") not in (None, self.app.seller_id):
            return self._failed(api, "ACQ.SELLER_NOT_EXIST", "卖家不存在")
        known = self.trades.get(no)
        if known is not None:
            if known.total != total:
                return self._failed(
                    api,
                    "ACQ.TRADE_HAS_SUCCESS"
                    if known.status != "WAIT_BUYER_PAY"
                    else "ACQ.CONTEXT_INCONSISTENT",
                    "交易信息被篡改",
                )
            return self._answer(
                api, {"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": known.trade_no}
            )
        trade = _Trade(
            out_trade_no=no,
            trade_no=datetime.now(CHINA).strftime("%Y%m%d") + "2200" + secrets.token_hex(7)[:14],
            total=total,
            subject=str(biz.get("subject", "")),
            buyer_id=str(biz.get("buyer_id") or biz.get("buyer_open_id")),
            notify_url=notify_url,
            created_at=datetime.now(UTC),
        )
        self.trades[no] = trade
        return self._answer(
            api, {"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": trade.trade_no}
        )

    def _query_view(self, trade: _Trade) -> dict[str, Any]:
        view: dict[str, Any] = {
            "code": "10000",
            "msg": "Success",
            "trade_no": trade.trade_no,
            "out_trade_no": trade.out_trade_no,
            "buyer_user_id": trade.buyer_id,
            "trade_status": trade.status,
            "total_amount": _yuan(trade.total),
        }
        if trade.paid_at:
            view.update(
                send_pay_date=china_time(trade.paid_at),
                receipt_amount=_yuan(trade.total),
                buyer_pay_amount=_yuan(trade.total),
            )
        return view

    def _close(self, api: str, biz: dict[str, Any]) -> Reply:
        trade = self.trades.get(str(biz.get("out_trade_no")))
        if trade is None:
            return self._failed(api, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if trade.status != "WAIT_BUYER_PAY" and trade.status != "TRADE_CLOSED":
            return self._failed(api, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
        trade.status = "TRADE_CLOSED"
        return self._answer(
            api,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
            },
        )

    def _refund(self, api: str, biz: dict[str, Any]) -> Reply:
        trade = self.trades.get(str(biz.get("out_trade_no")))
        if trade is None:
            return self._failed(api, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        number = str(biz.get("out_request_no") or trade.trade_no)  # none: a full refund's own number
        try:
            amount = _fen(str(biz.get("refund_amount", "")))
        except ValueError:
            return self._failed(api, "ACQ.INVALID_PARAMETER", "refund_amount 不合法")
        known = self.refunds.get((trade.out_trade_no, number))
        fund_change = "N"
        if known is not None:
            if known.amount != amount:
                return self._failed(api, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额与请求号不一致")
        else:
            if trade.status not in ("TRADE_SUCCESS",):
                return self._failed(api, "ACQ.TRADE_STATUS_ERROR", "交易状态不合法")
            if amount <= 0 or trade.refunded + amount > trade.total:
                return self._failed(api, "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL", "退款金额超限")
            self.refunds[(trade.out_trade_no, number)] = _Refund(
                number, trade.out_trade_no, amount, datetime.now(UTC)
            )
            trade.refunded += amount
            fund_change = "Y"
        return self._answer(
            api,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": trade.out_trade_no,
                "buyer_user_id": trade.buyer_id,
                "fund_change": fund_change,
                "refund_fee": _yuan(trade.refunded),
                "gmt_refund_pay": china_time(self.refunds[(trade.out_trade_no, number)].at),
            },
        )

    def _refund_query(self, api: str, biz: dict[str, Any]) -> Reply:
        no, number = str(biz.get("out_trade_no")), str(biz.get("out_request_no"))
        refund = self.refunds.get((no, number))
        trade = self.trades.get(no)
        if trade is None:
            return self._failed(api, "ACQ.TRADE_NOT_EXIST", "交易不存在")
        if refund is None:  # Alipay answers success without a refund_status for an unknown one
            return self._answer(
                api, {"code": "10000", "msg": "Success", "out_trade_no": no, "trade_no": trade.trade_no}
            )
        return self._answer(
            api,
            {
                "code": "10000",
                "msg": "Success",
                "trade_no": trade.trade_no,
                "out_trade_no": no,
                "out_request_no": number,
                "total_amount": _yuan(trade.total),
                "refund_amount": _yuan(refund.amount),
                "refund_status": "REFUND_SUCCESS",
                "gmt_refund_pay": china_time(refund.at),
            },
        )

    # -- the driver pays

    def pay(self, out_trade_no: str, deliveries: int = 1) -> dict[str, Any]:
        fields = self.mark_paid(out_trade_no)
        trade = self.trades[out_trade_no]
        url = trade.notify_url

        def headers() -> dict[str, str]:
            return {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}

        # One notification, delivered again and again (Alipay resends the same notify_id).
        body = self.notification(fields)
        notified = deliver(url, body.encode(), headers, deliveries)
        return {"trade_no": trade.trade_no, "notified": notified}

    def mark_paid(self, out_trade_no: str) -> dict[str, str]:
        """The trade is paid (no notification yet): what its notification says."""
        with self._lock:
            trade = self.trades[out_trade_no]
            if trade.status not in ("WAIT_BUYER_PAY", "TRADE_SUCCESS"):
                raise ValueError(f"trade {out_trade_no} is {trade.status}")
            if trade.status == "WAIT_BUYER_PAY":
                trade.status, trade.paid_at = "TRADE_SUCCESS", datetime.now(UTC)
            return self._notify_fields(trade)

    def _control_pay(self, raw: bytes) -> Reply:
        try:
            data = json.loads(raw or b"{}")
            no, deliveries = data["out_trade_no"], data.get("deliveries", 1)
            if not isinstance(deliveries, int) or not 1 <= deliveries <= MAX_DELIVERIES:
                raise ValueError(f"deliveries must be 1..{MAX_DELIVERIES}")
            if no not in self.trades:
                return Reply(
                    404, json.dumps({"code": "ACQ.TRADE_NOT_EXIST", "message": str(no)}).encode(), {}
                )
            result = self.pay(no, deliveries)
        except (ValueError, KeyError, TypeError) as exc:
            return Reply(400, json.dumps({"code": "bad_request", "message": str(exc)}).encode(), {})
        return Reply(200, json.dumps(result).encode(), {})

    # -- the daily bill (业务明细)

    def _bill(self, day: str) -> Reply:
        try:
            content = statement_zip(self, day)
        except ValueError:
            return Reply(404, b'{"code":"bill_not_exist"}', {})
        return Reply(200, content, {"Content-Type": "application/zip"})


BILL_COLUMNS = (
    "支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,"
    "订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,"
    "券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注"
)


def statement_csv(fake: FakeAlipay, day: str) -> str:
    """The day's 业务明细 (trade details) in Alipay's layout: `#` header lines, the columns, a
    row per payment (交易) and per refund (退款, negative), the `#` totals."""
    start = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=CHINA)
    end = start + timedelta(days=1)
    with fake._lock:
        trades = list(fake.trades.values())
        refunds = list(fake.refunds.values())
    lines = [
        "#支付宝业务明细查询",
        f"#账号：[{fake.app.seller_id}0156]",
        f"#起始日期：[{day} 00:00:00]   终止日期：[{end:%Y-%m-%d} 00:00:00]",
        "#-----------------------------------------业务明细列表----------------------------------------",
        BILL_COLUMNS,
    ]
    paid = refunded = count_paid = count_refund = 0
    for trade in trades:
        if trade.paid_at is None or not start <= trade.paid_at.astimezone(CHINA) < end:
            continue
        count_paid += 1
        paid += trade.total
        fee = trade.total * 6 // 1000
        lines.append(",".join([
            trade.trade_no, trade.out_trade_no, "交易", trade.subject, china_time(trade.created_at),
            china_time(trade.paid_at), "", "", "", "", trade.buyer_id, _yuan(trade.total), _yuan(trade.total),
            "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00", "", f"-{_yuan(fee)}", "0.00", "",
        ]))  # fmt: skip
    for refund in refunds:
        if not start <= refund.at.astimezone(CHINA) < end:
            continue
        trade = fake.trades[refund.out_trade_no]
        count_refund += 1
        refunded += refund.amount
        lines.append(",".join([
            trade.trade_no, trade.out_trade_no, "退款", trade.subject, china_time(trade.created_at),
            china_time(refund.at), "", "", "", "", trade.buyer_id, f"-{_yuan(refund.amount)}",
            f"-{_yuan(refund.amount)}", "0.00", "0.00", "0.00", "0.00", "0.00", "", "0.00", "0.00",
            refund.out_request_no, "0.00", "0.00", "",
        ]))  # fmt: skip
    lines += [
        "#-----------------------------------------业务明细列表结束------------------------------------",
        f"#交易合计：{count_paid}笔，商家实收共{_yuan(paid)}元，商家优惠共0.00元",
        f"#退款合计：{count_refund}笔，商家实收退款共-{_yuan(refunded)}元，商家优惠退款共0.00元",
        f"#导出时间：[{china_time(datetime.now(UTC))}]",
    ]
    return "\r\n".join(lines) + "\r\n"


def statement_zip(fake: FakeAlipay, day: str) -> bytes:
    """The bill as Alipay serves it: a zip holding the details CSV, GBK-encoded."""
    text = statement_csv(fake, day)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{fake.app.seller_id}0156_{day.replace('-', '')}_业务明细.csv", text.encode("gbk"))
    return out.getvalue()


def load_app(directory: Path, app_id: str, seller_id: str) -> AlipayApp:
    """The fake's view of the app from the keys the local stack generated."""
    return AlipayApp(
        app_id=app_id,
        seller_id=seller_id,
        app_public_key=(directory / "app.pub.pem").read_bytes(),
        alipay_private_key=(directory / "alipay.pem").read_bytes(),
    )
