"""The WeChat Pay and Alipay adapters against the local fakes on loopback, in process: the
fakes check our request signatures and sign their answers and notifications with the keys the
local stack generates. A genuine notification verifies (and decrypts); a tampered, re-signed,
stale or misdirected one is refused; an unknown WeChat serial makes no call out; refunds are
idempotent on our refund number; the statements come in each provider's format."""

from __future__ import annotations

import base64
import gzip
import io
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from chalicelib.payments import alipay, wechat
from chalicelib.payments.channel import NotificationMismatch
from chalicelib.payments.sandbox import MalformedNotification, SignatureError
from chalicelib.shared.errors import NotFound
from infra.local import keys as local_keys
from infra.local.fake_alipay import FakeAlipay, load_app, rsa2_sign, signed_text
from infra.local.fake_wechat import FakeWeChat, load_merchant, notification_body, signed_headers

ORDER = "p-0test00000001"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="module")
def provider_keys(tmp_path_factory: pytest.TempPathFactory) -> local_keys.ProviderKeys:
    return local_keys.ensure_provider_keys(tmp_path_factory.mktemp("provider-keys"))


def other_private_key() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


# -- WeChat Pay


def wechat_account(keys: local_keys.ProviderKeys) -> wechat.WeChatAccount:
    return wechat.WeChatAccount(
        mchid=local_keys.WECHAT_MCHID,
        appid=local_keys.WECHAT_APPID,
        merchant_serial_no=local_keys.WECHAT_MERCHANT_SERIAL,
        public_key_id=local_keys.WECHAT_PUBLIC_KEY_ID,
        private_key=(keys.wechat / "merchant.pem").read_text(),
        public_key=(keys.wechat / "platform.pub.pem").read_text(),
        apiv3_key=(keys.wechat / "apiv3.key").read_text().strip(),
    )


@pytest.fixture
def fake_wechat(provider_keys: local_keys.ProviderKeys) -> Iterator[FakeWeChat]:
    fake = FakeWeChat(
        load_merchant(
            provider_keys.wechat,
            local_keys.WECHAT_MCHID,
            local_keys.WECHAT_APPID,
            local_keys.WECHAT_MERCHANT_SERIAL,
            local_keys.WECHAT_PUBLIC_KEY_ID,
        )
    )
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def wxpay(fake_wechat: FakeWeChat, provider_keys: local_keys.ProviderKeys) -> wechat.WeChatPayAdapter:
    return wechat.WeChatPayAdapter(
        wechat_account(provider_keys), gateway_url=fake_wechat.url, notify_url="http://127.0.0.1:9/notify"
    )


def paid_wechat_order(wxpay: wechat.WeChatPayAdapter, fake: FakeWeChat, amount: int = 900) -> dict:
    wxpay.mini_program_order(
        ORDER, amount, "停车费 粤B12345", "o-driver-openid", now() + timedelta(minutes=15), now()
    )
    return fake.mark_paid(ORDER)


def amounts(**known: int):
    return {ORDER: 900, **known}.get


def test_a_mini_program_order_gives_a_bundle_signed_with_the_merchant_key(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat, provider_keys: local_keys.ProviderKeys
) -> None:
    order = wxpay.mini_program_order(
        ORDER, 900, "停车费 粤B12345", "o-openid", now() + timedelta(minutes=15), now()
    )
    assert order["prepay_id"] == fake_wechat.orders[ORDER].prepay_id  # the fake checked our signature
    bundle = order["pay_params"]
    assert bundle["package"] == f"prepay_id={order['prepay_id']}" and bundle["signType"] == "RSA"
    merchant = serialization.load_pem_public_key((provider_keys.wechat / "merchant.pub.pem").read_bytes())
    assert isinstance(merchant, rsa.RSAPublicKey)
    message = f"{bundle['appId']}\n{bundle['timeStamp']}\n{bundle['nonceStr']}\n{bundle['package']}\n"
    merchant.verify(
        base64.b64decode(bundle["paySign"]), message.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert fake_wechat.orders[ORDER].total == 900


def test_a_request_not_signed_by_the_merchant_is_refused_by_the_fake(
    fake_wechat: FakeWeChat, provider_keys: local_keys.ProviderKeys
) -> None:
    forged = wechat.WeChatAccount(
        **{**wechat_account(provider_keys).__dict__, "private_key": other_private_key().decode()}
    )
    adapter = wechat.WeChatPayAdapter(forged, gateway_url=fake_wechat.url, notify_url="http://127.0.0.1:9/n")
    with pytest.raises(Exception) as refused:
        adapter.mini_program_order(ORDER, 900, "x", "o", now() + timedelta(minutes=5), now())
    assert getattr(refused.value, "code", "") == "provider_refused" and ORDER not in fake_wechat.orders


def test_a_genuine_notification_verifies_decrypts_and_matches_the_order(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    resource = paid_wechat_order(wxpay, fake_wechat)
    headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", resource)
    payment = wxpay.verify_payment(headers, body, now(), amounts())
    assert (payment.out_trade_no, payment.amount_fen, payment.trade_state) == (ORDER, 900, "SUCCESS")
    assert payment.transaction_id == fake_wechat.orders[ORDER].transaction_id
    note = payment.notification()
    assert (note.out_trade_no, note.amount_fen, note.trade_state) == (ORDER, 900, "SUCCESS")
    # header names as a gateway (lower case) delivers them verify the same
    assert wxpay.verify_payment({k.lower(): v for k, v in headers.items()}, body, now(), amounts()).paid


def test_a_tampered_body_is_refused(wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat) -> None:
    headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", paid_wechat_order(wxpay, fake_wechat))
    tampered = body.replace('"summary":"TRANSACTION.SUCCESS"', '"summary":"TRANSACTION.SUCCESS "')
    assert tampered != body
    with pytest.raises(SignatureError):
        wxpay.verify_payment(headers, tampered, now(), amounts())


def test_a_notification_re_signed_with_another_key_is_refused(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    _headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", paid_wechat_order(wxpay, fake_wechat))
    forged = signed_headers(other_private_key(), local_keys.WECHAT_PUBLIC_KEY_ID, body)
    with pytest.raises(SignatureError):
        wxpay.verify_payment(forged, body, now(), amounts())


def test_a_resource_encrypted_with_another_apiv3_key_is_refused(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    resource = paid_wechat_order(wxpay, fake_wechat)
    body = notification_body("0" * 32, "TRANSACTION.SUCCESS", resource, "支付成功")
    headers = signed_headers(fake_wechat.merchant.platform_private_key, local_keys.WECHAT_PUBLIC_KEY_ID, body)
    with pytest.raises(SignatureError):
        wxpay.verify_payment(headers, body, now(), amounts())


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_a_stale_or_future_timestamp_is_refused(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat, skew: int
) -> None:
    _headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", paid_wechat_order(wxpay, fake_wechat))
    at = now().replace(microsecond=0)  # one instant for signing and checking: a slow machine
    stamp = int(at.timestamp()) + skew  # does not move the window's edge
    headers = signed_headers(
        fake_wechat.merchant.platform_private_key, local_keys.WECHAT_PUBLIC_KEY_ID, body, stamp
    )
    with pytest.raises(SignatureError, match="window"):
        wxpay.verify_payment(headers, body, at, amounts())
    inside = signed_headers(
        fake_wechat.merchant.platform_private_key,
        local_keys.WECHAT_PUBLIC_KEY_ID,
        body,
        int(at.timestamp()) - 299,
    )
    assert wxpay.verify_payment(inside, body, at, amounts()).paid


def test_an_unknown_serial_is_refused_without_any_call_out(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    _headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", paid_wechat_order(wxpay, fake_wechat))
    headers = signed_headers(other_private_key(), "5157F09EFDC096DE15EBE81A47057A72", body)
    before = fake_wechat.requests_seen()
    with pytest.raises(SignatureError, match="Wechatpay-Serial"):
        wxpay.verify_payment(headers, body, now(), amounts())
    assert fake_wechat.requests_seen() == before  # the gateway (here the fake) was never called


def test_why_the_serial_is_checked_first_the_library_alone_calls_the_gateway(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    """What the adapter guards against: given an unknown serial, wechatpayv3 itself downloads
    certificates from the gateway, on behalf of whoever sent the request."""
    _headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", paid_wechat_order(wxpay, fake_wechat))
    headers = signed_headers(other_private_key(), "5157F09EFDC096DE15EBE81A47057A72", body)
    before = len(fake_wechat.requests_seen())
    assert wxpay._client.callback(headers, body) is None
    assert [s.path for s in fake_wechat.requests_seen()[before:]] == ["/v3/certificates"]


def test_a_wrong_amount_appid_or_mchid_or_an_unknown_order_is_refused(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    resource = paid_wechat_order(wxpay, fake_wechat)
    cases = [
        ({**resource, "amount": {**resource["amount"], "total": 1}}, "amount_mismatch"),
        ({**resource, "amount": {**resource["amount"], "currency": "USD"}}, "amount_mismatch"),
        ({**resource, "appid": "wx-another-app"}, "merchant_mismatch"),
        ({**resource, "mchid": "1900000999"}, "merchant_mismatch"),
    ]
    for changed, code in cases:
        headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", changed)  # genuinely signed
        with pytest.raises(NotificationMismatch) as refused:
            wxpay.verify_payment(headers, body, now(), amounts())
        assert refused.value.code == code
    headers, body = fake_wechat.notification(
        "TRANSACTION.SUCCESS", {**resource, "out_trade_no": "p-not-ours"}
    )
    with pytest.raises(NotFound):
        wxpay.verify_payment(headers, body, now(), amounts())
    headers, body = fake_wechat.notification("TRANSACTION.SUCCESS", {**resource, "amount": {"total": 9.0}})
    with pytest.raises(MalformedNotification):  # a float is not fen
        wxpay.verify_payment(headers, body, now(), amounts())


def test_query_and_close(wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat) -> None:
    wxpay.mini_program_order(ORDER, 500, "停车费", "o-openid", now() + timedelta(minutes=15), now())
    assert wxpay.query(ORDER).trade_state == "NOTPAY"
    wxpay.close(ORDER)
    assert wxpay.query(ORDER).trade_state == "CLOSED"
    wxpay.mini_program_order(
        "p-0test00000002", 700, "停车费", "o-openid", now() + timedelta(minutes=15), now()
    )
    fake_wechat.mark_paid("p-0test00000002")
    paid = wxpay.query("p-0test00000002")
    assert (paid.trade_state, paid.amount_fen, paid.paid) == ("SUCCESS", 700, True)
    with pytest.raises(Exception) as refused:
        wxpay.close("p-0test00000002")
    assert getattr(refused.value, "code", "") == "provider_refused"


def test_a_refund_asked_twice_with_one_refund_number_is_one_refund(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    paid_wechat_order(wxpay, fake_wechat)
    first = wxpay.refund("r-0test0001", ORDER, 300, 900, "driver left early")
    again = wxpay.refund("r-0test0001", ORDER, 300, 900, "driver left early")
    assert first.refund_id == again.refund_id and first.refund_fen == 300
    assert list(fake_wechat.refunds) == ["r-0test0001"] and fake_wechat.orders[ORDER].refunded == 300
    assert wxpay.query_refund("r-0test0001").status == "SUCCESS"


def test_a_refund_notification_verifies_and_is_matched_with_our_refund(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    paid_wechat_order(wxpay, fake_wechat)
    asked = wxpay.refund("r-0test0002", ORDER, 900, 900)
    view = fake_wechat._refund_view(fake_wechat.refunds["r-0test0002"])
    resource = {
        "mchid": local_keys.WECHAT_MCHID,
        **{
            k: view[k]
            for k in ("out_trade_no", "transaction_id", "out_refund_no", "refund_id", "success_time")
        },
        "refund_status": "SUCCESS",
        "amount": {k: view["amount"][k] for k in ("total", "refund", "payer_total", "payer_refund")},
    }
    headers, body = fake_wechat.notification("REFUND.SUCCESS", resource)
    ours: dict[str, int] = {"r-0test0002": 900}
    refund = wxpay.verify_refund(headers, body, now(), ours.get)
    assert (refund.out_refund_no, refund.refund_id, refund.refund_fen) == (
        "r-0test0002",
        asked.refund_id,
        900,
    )
    with pytest.raises(NotificationMismatch):
        wxpay.verify_refund(headers, body, now(), {"r-0test0002": 800}.get)
    with pytest.raises(NotFound):
        wxpay.verify_refund(headers, body, now(), lambda number: None)
    with pytest.raises(MalformedNotification):  # a refund notification is not a payment
        wxpay.verify_payment(headers, body, now(), amounts())


def test_the_tradebill_is_wechat_csv_with_backquoted_fields(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    paid_wechat_order(wxpay, fake_wechat)
    wxpay.refund("r-0test0003", ORDER, 100, 900)
    day = fake_wechat.orders[ORDER].success_time[:10]
    lines = wxpay.trade_bill(day).decode("utf-8").splitlines()
    assert lines[0].startswith("交易时间,公众账号ID,商户号")
    rows = [line.split(",") for line in lines[1:-2]]
    assert [r[6] for r in rows] == [f"`{ORDER}", f"`{ORDER}"] and [r[9] for r in rows] == [
        "`SUCCESS",
        "`REFUND",
    ]
    assert rows[0][12] == "`9.00" and rows[1][16] == "`1.00"
    assert lines[-2].startswith("总交易单数") and lines[-1].split(",")[:3] == ["`2", "`9.00", "`1.00"]


def test_the_wechat_base_url_is_set_in_one_place(provider_keys: local_keys.ProviderKeys) -> None:
    """wechatpayv3 keeps its base URL in the private Core._gate_way: if an upgrade moves it, this
    fails (and set_gateway refuses) rather than our calls silently going to the real gateway."""
    from wechatpayv3 import WeChatPay, WeChatPayType, core

    account = wechat_account(provider_keys)
    client = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=account.mchid,
        private_key=account.private_key,
        cert_serial_no=account.merchant_serial_no,
        appid=account.appid,
        apiv3_key=account.apiv3_key,
        public_key=account.public_key,
        public_key_id=account.public_key_id,
    )
    assert isinstance(client._core, core.Core) and client._core._gate_way == wechat.GATEWAY
    wechat.set_gateway(client, "http://127.0.0.1:1/")
    assert wechat.gateway_of(client) == "http://127.0.0.1:1"
    with pytest.raises(RuntimeError, match="_gate_way"):
        wechat.set_gateway(object(), "http://127.0.0.1:1")


# -- Alipay


def alipay_account(keys: local_keys.ProviderKeys) -> alipay.AlipayAccount:
    return alipay.AlipayAccount(
        app_id=local_keys.ALIPAY_APP_ID,
        seller_id=local_keys.ALIPAY_SELLER_ID,
        private_key=(keys.alipay / "app.pem").read_text(),
        alipay_public_key=(keys.alipay / "alipay.pub.pem").read_text(),
    )


@pytest.fixture
def fake_alipay(provider_keys: local_keys.ProviderKeys) -> Iterator[FakeAlipay]:
    fake = FakeAlipay(load_app(provider_keys.alipay, local_keys.ALIPAY_APP_ID, local_keys.ALIPAY_SELLER_ID))
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def ali(fake_alipay: FakeAlipay, provider_keys: local_keys.ProviderKeys) -> alipay.AlipayAdapter:
    return alipay.AlipayAdapter(
        alipay_account(provider_keys), gateway_url=fake_alipay.gateway_url, notify_url="http://127.0.0.1:9/n"
    )


def paid_alipay_trade(ali: alipay.AlipayAdapter, fake: FakeAlipay, amount: int = 900) -> dict[str, str]:
    ali.mini_program_order(
        ORDER, amount, "停车费 粤B12345", "2088002000000001", now() + timedelta(minutes=15)
    )
    return fake.mark_paid(ORDER)


def resign(fake: FakeAlipay, fields: dict[str, str], key: bytes | None = None) -> str:
    form = {**fields, "sign_type": "RSA2"}
    form["sign"] = rsa2_sign(key or fake.app.alipay_private_key, signed_text(form, ("sign", "sign_type")))
    return urlencode(form)


def test_an_alipay_trade_is_created_with_a_signed_call(
    ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay
) -> None:
    order = ali.mini_program_order(
        ORDER, 950, "停车费 粤B12345", "2088002000000001", now() + timedelta(minutes=15)
    )
    trade = fake_alipay.trades[ORDER]
    assert order["trade_no"] == trade.trade_no and trade.total == 950  # "9.50" at the fake
    forged = alipay.AlipayAdapter(
        alipay.AlipayAccount(**{**alipay_account_fields(ali), "private_key": other_private_key().decode()}),
        gateway_url=fake_alipay.gateway_url,
    )
    with pytest.raises(Exception) as refused:
        forged.mini_program_order(
            "p-0test00000009", 100, "x", "2088002000000001", now() + timedelta(minutes=5)
        )
    assert (
        getattr(refused.value, "code", "") == "provider_refused"
        and "p-0test00000009" not in fake_alipay.trades
    )


def alipay_account_fields(ali: alipay.AlipayAdapter) -> dict[str, str]:
    return dict(ali.account.__dict__)


def test_a_genuine_alipay_notification_verifies_and_matches(
    ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay
) -> None:
    fields = paid_alipay_trade(ali, fake_alipay)
    payment = ali.verify_payment(fake_alipay.notification(fields), now(), amounts())
    assert (payment.out_trade_no, payment.amount_fen, payment.paid) == (ORDER, 900, True)
    assert payment.transaction_id == fake_alipay.trades[ORDER].trade_no


def test_a_tampered_or_re_signed_alipay_notification_is_refused(
    ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay
) -> None:
    fields = paid_alipay_trade(ali, fake_alipay)
    genuine = fake_alipay.notification(fields)
    tampered = genuine.replace("total_amount=9.00", "total_amount=0.01")
    assert tampered != genuine
    for body in (tampered, resign(fake_alipay, {**fields, "total_amount": "0.01"}, other_private_key())):
        with pytest.raises(SignatureError):
            ali.verify_payment(body, now(), amounts())
    unsigned = urlencode({k: v for k, v in parse_qsl(genuine) if k != "sign"})
    no_type = urlencode({k: v for k, v in parse_qsl(genuine) if k != "sign_type"})
    for body in (unsigned, no_type):
        with pytest.raises(SignatureError):
            ali.verify_payment(body, now(), amounts())
    with pytest.raises(MalformedNotification):
        ali.verify_payment(genuine + "&total_amount=0.01", now(), amounts())


def test_a_stale_alipay_notification_is_refused(ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay) -> None:
    fields = paid_alipay_trade(ali, fake_alipay)
    old = alipay.china_time(now() - timedelta(hours=27))
    with pytest.raises(SignatureError, match="notify_time"):
        ali.verify_payment(resign(fake_alipay, {**fields, "notify_time": old}), now(), amounts())


def test_a_wrong_amount_app_or_seller_is_refused(ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay) -> None:
    fields = paid_alipay_trade(ali, fake_alipay)
    for changed, code in [
        ({"total_amount": "9.01"}, "amount_mismatch"),
        ({"total_amount": "0.09"}, "amount_mismatch"),
        ({"app_id": "2021000000009999"}, "merchant_mismatch"),
        ({"seller_id": "2088000000009999"}, "merchant_mismatch"),
    ]:
        with pytest.raises(NotificationMismatch) as refused:
            ali.verify_payment(resign(fake_alipay, {**fields, **changed}), now(), amounts())
        assert refused.value.code == code
    without_seller = {k: v for k, v in fields.items() if k != "seller_id"}
    with pytest.raises(NotificationMismatch):
        ali.verify_payment(resign(fake_alipay, without_seller), now(), amounts())
    for text in ("9.0e0", "9.000", "-9.00", " 9.00", "９.00"):
        with pytest.raises(MalformedNotification):
            ali.verify_payment(resign(fake_alipay, {**fields, "total_amount": text}), now(), amounts())
    with pytest.raises(NotFound):
        ali.verify_payment(resign(fake_alipay, {**fields, "out_trade_no": "p-not-ours"}), now(), amounts())
    waiting = ali.verify_payment(
        resign(fake_alipay, {**fields, "trade_status": "WAIT_BUYER_PAY"}), now(), amounts()
    )
    assert not waiting.paid


def test_alipay_query_close_and_an_idempotent_refund(
    ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay
) -> None:
    ali.mini_program_order(
        "p-0test00000003", 500, "停车费", "2088002000000001", now() + timedelta(minutes=15)
    )
    assert ali.query("p-0test00000003").trade_state == "WAIT_BUYER_PAY"
    ali.close("p-0test00000003")
    assert ali.query("p-0test00000003").trade_state == "TRADE_CLOSED"
    ali.close("p-never-created")  # nothing to close: fine
    paid_alipay_trade(ali, fake_alipay)
    assert ali.query(ORDER).paid
    first = ali.refund("r-0test0004", ORDER, 300, "driver left early")
    again = ali.refund("r-0test0004", ORDER, 300, "driver left early")
    assert first.refund_fen == again.refund_fen == 300
    assert list(fake_alipay.refunds) == [(ORDER, "r-0test0004")] and fake_alipay.trades[ORDER].refunded == 300
    assert ali.query_refund("r-0test0004", ORDER).status == "SUCCESS"
    with pytest.raises(Exception) as refused:
        ali.refund("r-0test0005", ORDER, 700)  # beyond what is left
    assert getattr(refused.value, "code", "") == "provider_refused"


def test_the_alipay_bill_is_a_zip_of_gbk_csv_in_alipays_layout(
    ali: alipay.AlipayAdapter, fake_alipay: FakeAlipay
) -> None:
    import urllib.request

    paid_alipay_trade(ali, fake_alipay)
    ali.refund("r-0test0006", ORDER, 100)
    day = alipay.china_time(now())[:10]
    url = ali.bill_url(day)
    with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - the fake on loopback
        archive = zipfile.ZipFile(io.BytesIO(answer.read()))
    (name,) = archive.namelist()
    lines = archive.read(name).decode("gbk").splitlines()
    assert lines[0] == "#支付宝业务明细查询" and lines[4].startswith("支付宝交易号,商户订单号,业务类型")
    rows = [line.split(",") for line in lines[5:] if not line.startswith("#")]
    assert [(r[1], r[2], r[11]) for r in rows] == [(ORDER, "交易", "9.00"), (ORDER, "退款", "-1.00")]


def test_the_alipay_gateway_is_set_in_one_place(provider_keys: local_keys.ProviderKeys) -> None:
    """python-alipay-sdk keeps its gateway in the private BaseAliPay._gateway."""
    from alipay import AliPay

    account = alipay_account(provider_keys)
    client = AliPay(
        appid=account.app_id,
        app_private_key_string=account.private_key,
        alipay_public_key_string=account.alipay_public_key,
    )
    assert client._gateway == alipay.GATEWAY
    alipay.set_gateway(client, "http://127.0.0.1:1/gateway.do")
    assert alipay.gateway_of(client) == "http://127.0.0.1:1/gateway.do"
    with pytest.raises(RuntimeError, match="_gateway"):
        alipay.set_gateway(object(), "http://127.0.0.1:1")


def test_the_keys_the_local_stack_generates_are_kept(tmp_path: Path) -> None:
    first = local_keys.ensure_provider_keys(tmp_path)
    before = {p.name: p.read_bytes() for p in (first.wechat / "merchant.pem", first.wechat / "apiv3.key")}
    again = local_keys.ensure_provider_keys(tmp_path)
    assert {
        p.name: p.read_bytes() for p in (again.wechat / "merchant.pem", again.wechat / "apiv3.key")
    } == before
    assert len((again.wechat / "apiv3.key").read_text()) == 32


def test_the_fake_gzips_the_tradebill_when_asked(
    wxpay: wechat.WeChatPayAdapter, fake_wechat: FakeWeChat
) -> None:
    paid_wechat_order(wxpay, fake_wechat)
    day = fake_wechat.orders[ORDER].success_time[:10]
    assert gzip.decompress(fake_wechat._bill_bytes(f"{day}.GZIP")).decode().count(ORDER) == 1
