"""Payments fixtures: the local fakes of WeChat Pay and Alipay on loopback with the keys the
local stack generates, the app pointed at them, the keys in SSM (moto) and the demo lot naming
merchant accounts with them."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from chalicelib.payments import merchants
from chalicelib.shared import settings
from infra.local import keys as local_keys
from infra.local import provider_accounts
from infra.local.fake_alipay import FakeAlipay, load_app
from infra.local.fake_wechat import FakeWeChat, load_merchant

LOT = "demo-lot"
NOTIFY_BASE = "http://127.0.0.1:9"


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(scope="session")
def provider_keys(tmp_path_factory: pytest.TempPathFactory) -> local_keys.ProviderKeys:
    return local_keys.ensure_provider_keys(tmp_path_factory.mktemp("provider-keys"))


@pytest.fixture
def fakes(
    aws: None, provider_keys: local_keys.ProviderKeys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeWeChat, FakeAlipay]]:
    from aws_lambda_powertools.utilities import parameters

    wx = FakeWeChat(
        load_merchant(
            provider_keys.wechat,
            local_keys.WECHAT_MCHID,
            local_keys.WECHAT_APPID,
            local_keys.WECHAT_MERCHANT_SERIAL,
            local_keys.WECHAT_PUBLIC_KEY_ID,
        )
    )
    ali = FakeAlipay(load_app(provider_keys.alipay, local_keys.ALIPAY_APP_ID, local_keys.ALIPAY_SELLER_ID))
    wx.start()
    ali.start()
    monkeypatch.setenv("PARKCHARGE_WECHAT_GATEWAY_URL", wx.url)
    monkeypatch.setenv("PARKCHARGE_ALIPAY_GATEWAY_URL", ali.gateway_url)
    monkeypatch.setenv("PARKCHARGE_NOTIFY_BASE_URL", NOTIFY_BASE)
    settings.get_settings.cache_clear()
    parameters.clear_caches()
    provider_accounts.store_keys(provider_keys, settings.get_settings().region)
    provider_accounts.name_accounts(merchants.LOT, LOT, "demo-op", now())
    yield wx, ali
    wx.stop()
    ali.stop()
    monkeypatch.undo()
    settings.get_settings.cache_clear()
    parameters.clear_caches()
