"""Per-site merchant accounts: a lot names its WeChat Pay and Alipay accounts, whose keys are read
from SSM / Secrets Manager (moto) through Powertools parameters; the payment flow's functions
(`payments.channels`) order, verify notifications, query, close and refund through the site's
account at the fakes on loopback. A site without an account refuses with `no_merchant_account`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.payments import channels, merchants
from chalicelib.payments.channel import NotificationMismatch
from chalicelib.payments.models import PENDING, Payment
from chalicelib.payments.sandbox import SignatureError
from chalicelib.shared import settings
from chalicelib.shared.errors import Conflict, NotFound
from infra.local import keys as local_keys
from infra.local.fake_wechat import signed_headers
from tests.integration.payments.conftest import LOT, NOTIFY_BASE


def now() -> datetime:
    return datetime.now(UTC)


def a_payment(payment_id: str, provider: str, amount_fen: int = 900, lot_id: str = LOT) -> Payment:
    """A pending payment as the payment flow records it before the driver pays."""
    at = now()
    payment = Payment(
        payment_id,
        quote_id="q-" + payment_id.removeprefix("p-"),
        user_id="demo-driver",
        lot_id=lot_id,
        lot_plate=f"{lot_id}#粤B12345",
        visit_id="v-1",
        plate="粤B12345",
        amount_fen=amount_fen,
        provider=provider,
        method=provider,
        source="driver_api",
        status=PENDING,
        priced_until=at,
        created_at=at,
        expires_at=at + timedelta(minutes=15),
    )
    payment.save()
    return payment


def order(provider: str, payment: Payment) -> dict[str, Any]:
    return channels.provider_order(
        provider,
        site_kind=merchants.LOT,
        site_id=str(payment.lot_id),
        out_trade_no=str(payment.payment_id),
        amount_fen=int(payment.amount_fen),
        description="停车费 粤B12345",
        payer_id="o-openid" if provider == merchants.WECHAT else "2088002000000001",
        expires_at=payment.expires_at or now(),
        now=now(),
    )


def test_a_site_without_an_account_refuses_payments_with_that_provider(fakes: Any) -> None:
    for provider in merchants.PROVIDERS:
        with pytest.raises(Conflict) as refused:
            channels.provider_order(
                provider,
                site_kind=merchants.LOT,
                site_id="other-lot",
                out_trade_no="p-x",
                amount_fen=100,
                description="x",
                payer_id="o",
                expires_at=now(),
                now=now(),
            )
        assert refused.value.code == "no_merchant_account" and "other-lot" in refused.value.message
    wx, ali = fakes
    assert wx.requests_seen() == [] and ali.requests_seen() == []


def test_a_wechat_order_and_its_notification_through_the_sites_account(fakes: Any) -> None:
    wx, _ali = fakes
    payment = a_payment("p-0wx000000001", merchants.WECHAT)
    made = order(merchants.WECHAT, payment)
    assert made["prepay_id"] == wx.orders["p-0wx000000001"].prepay_id
    assert wx.orders["p-0wx000000001"].notify_url == NOTIFY_BASE + "/v1/pay/wechat/notify"
    headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid("p-0wx000000001"))
    note = channels.wechat_notification(headers, body, now())
    assert (note.out_trade_no, note.amount_fen, note.trade_state) == ("p-0wx000000001", 900, "SUCCESS")
    assert channels.query(payment).paid


def test_a_wechat_notification_naming_no_key_of_ours_is_refused_without_a_call(fakes: Any) -> None:
    wx, _ali = fakes
    payment = a_payment("p-0wx000000002", merchants.WECHAT)
    order(merchants.WECHAT, payment)
    _headers, body = wx.notification("TRANSACTION.SUCCESS", wx.mark_paid("p-0wx000000002"))
    before = wx.requests_seen()
    forged = signed_headers(wx.merchant.platform_private_key, "PUB_KEY_ID_NOT_OURS", body)
    with pytest.raises(SignatureError):
        channels.wechat_notification(forged, body, now())
    assert wx.requests_seen() == before


def test_a_notification_about_another_providers_order_or_an_unknown_one_is_refused(fakes: Any) -> None:
    wx, _ali = fakes
    payment = a_payment("p-0wx000000003", merchants.WECHAT)
    order(merchants.WECHAT, payment)
    resource = wx.mark_paid("p-0wx000000003")
    a_payment("p-0al000000009", merchants.ALIPAY)
    headers, body = wx.notification("TRANSACTION.SUCCESS", {**resource, "out_trade_no": "p-0al000000009"})
    with pytest.raises(NotificationMismatch):
        channels.wechat_notification(headers, body, now())
    headers, body = wx.notification("TRANSACTION.SUCCESS", {**resource, "out_trade_no": "p-nobody"})
    with pytest.raises(NotFound):
        channels.wechat_notification(headers, body, now())


def test_an_alipay_order_notification_close_and_refund_through_the_sites_account(fakes: Any) -> None:
    _wx, ali = fakes
    payment = a_payment("p-0al000000001", merchants.ALIPAY, 1250)
    assert order(merchants.ALIPAY, payment)["trade_no"] == ali.trades["p-0al000000001"].trade_no
    assert ali.trades["p-0al000000001"].notify_url == NOTIFY_BASE + "/v1/pay/alipay/notify"
    note = channels.alipay_notification(ali.notification(ali.mark_paid("p-0al000000001")), now())
    assert (note.out_trade_no, note.amount_fen, note.trade_state) == ("p-0al000000001", 1250, "SUCCESS")
    first = channels.refund(payment, "r-0al0001", 250, "overpaid")
    again = channels.refund(payment, "r-0al0001", 250, "overpaid")
    assert first.refund_fen == again.refund_fen == 250 and ali.trades["p-0al000000001"].refunded == 250
    unpaid = a_payment("p-0al000000002", merchants.ALIPAY)
    order(merchants.ALIPAY, unpaid)
    channels.close(unpaid)
    assert channels.query(unpaid).trade_state == "TRADE_CLOSED"
    with pytest.raises(SignatureError):
        channels.alipay_notification("app_id=2021000000009999&sign=x&sign_type=RSA2", now())


def test_keys_may_live_in_secrets_manager(fakes: Any, provider_keys: local_keys.ProviderKeys) -> None:
    wx, _ali = fakes
    sm = boto3.client("secretsmanager", region_name=settings.get_settings().region)
    names = {}
    for field, path in {
        "private_key_name": provider_keys.wechat / "merchant.pem",
        "public_key_name": provider_keys.wechat / "platform.pub.pem",
        "apiv3_key_name": provider_keys.wechat / "apiv3.key",
    }.items():
        names[field] = f"parkcharge/merchants/station-1/{field}"
        sm.create_secret(Name=names[field], SecretString=path.read_text().strip())
    merchants.put_wechat(
        merchants.STATION,
        "demo-station",
        operator_id="demo-op",
        mchid=local_keys.WECHAT_MCHID,
        appid=local_keys.WECHAT_APPID,
        merchant_serial_no=local_keys.WECHAT_MERCHANT_SERIAL,
        public_key_id=local_keys.WECHAT_PUBLIC_KEY_ID,
        key_store=merchants.SECRETS_MANAGER,
        now=now(),
        **names,
    )
    made = channels.provider_order(
        merchants.WECHAT,
        site_kind=merchants.STATION,
        site_id="demo-station",
        out_trade_no="p-0st000000001",
        amount_fen=300,
        description="充电预付",
        payer_id="o-openid",
        expires_at=now() + timedelta(minutes=5),
        now=now(),
    )
    assert made["prepay_id"] == wx.orders["p-0st000000001"].prepay_id


def test_key_names_outside_the_merchant_prefix_are_refused(aws: None) -> None:
    with pytest.raises(Exception) as refused:
        merchants.put_alipay(
            merchants.LOT,
            LOT,
            operator_id="demo-op",
            app_id="2021",
            seller_id="2088",
            key_store=merchants.SSM,
            private_key_name="/parkcharge/sandbox-pay/public-key",
            alipay_public_key_name="/parkcharge/merchants/x",
            now=now(),
        )
    assert getattr(refused.value, "code", "") == "invalid_key_name"
