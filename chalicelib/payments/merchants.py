"""Merchant accounts: for each lot and station, the provider account its payments go to, and
where that account's keys live.

A site names one account per provider (WeChat Pay: mchid, appid, the merchant certificate's
serial and the platform public key's id; Alipay: app_id and seller_id). The keys are never in the
table: it holds the names of SSM SecureString parameters or Secrets Manager secrets under
`KEY_PREFIX` (the functions' roles may read only there), read through Powertools parameters and
kept `provider_key_cache_seconds` in the container. A site without an account for a provider
refuses to create payments with it (`no_merchant_account`).

Access patterns:
- the account of a site for a provider (creating a payment; querying, closing, refunding it);
- the WeChat Pay accounts with a platform public key id, the Alipay accounts of an app id (GSI
  `by_notify_key`; a notification names these before it is verified: an unknown one is refused
  without any call out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.payments.alipay import AlipayAccount, AlipayAdapter
from chalicelib.payments.wechat import WeChatAccount, WeChatPayAdapter
from chalicelib.shared.cache import cache
from chalicelib.shared.db import TableMeta, get_or_none, table_name_for
from chalicelib.shared.errors import Conflict, Invalid
from chalicelib.shared.settings import get_settings

WECHAT = "wechat"
ALIPAY = "alipay"
PROVIDERS = (WECHAT, ALIPAY)
LOT = "lot"
STATION = "station"
SITE_KINDS = (LOT, STATION)
SSM = "ssm"
SECRETS_MANAGER = "secretsmanager"
KEY_STORES = (SSM, SECRETS_MANAGER)
KEY_PREFIX = {SSM: "/parkcharge/merchants/", SECRETS_MANAGER: "parkcharge/merchants/"}
NOTIFY_PATHS = {WECHAT: "/v1/pay/wechat/notify", ALIPAY: "/v1/pay/alipay/notify"}
WECHAT_REFUND_NOTIFY_PATH = "/v1/pay/wechat/refund-notify"  # WeChat Pay's refund notifications


class NoMerchantAccount(Conflict):
    code = "no_merchant_account"


class AccountsByNotifyKey(GlobalSecondaryIndex["MerchantAccount"]):
    class Meta:
        index_name = "by_notify_key"
        projection = AllProjection()

    notify_key = UnicodeAttribute(hash_key=True)


class MerchantAccount(Model):
    class Meta(TableMeta):
        table_name = table_name_for("merchant_accounts")

    site = UnicodeAttribute(hash_key=True)  # "lot#<lot_id>" | "station#<station_id>"
    provider = UnicodeAttribute(range_key=True)  # wechat | alipay
    operator_id = UnicodeAttribute()
    notify_key = UnicodeAttribute()  # "wechat#<public_key_id>" | "alipay#<app_id>"
    app_id = UnicodeAttribute()  # WeChat appid (the mini-program's) | Alipay app_id
    merchant_id = UnicodeAttribute()  # WeChat mchid | Alipay seller_id (2088…)
    merchant_serial_no = UnicodeAttribute(null=True)  # WeChat: the merchant certificate's serial
    public_key_id = UnicodeAttribute(null=True)  # WeChat: the platform public key's id
    key_store = UnicodeAttribute()  # ssm | secretsmanager
    private_key_name = UnicodeAttribute()  # WeChat: merchant key | Alipay: app key
    provider_key_name = UnicodeAttribute()  # WeChat: platform public key | Alipay: Alipay public key
    apiv3_key_name = UnicodeAttribute(null=True)  # WeChat: the APIv3 key
    updated_at = UTCDateTimeAttribute()

    by_notify_key = AccountsByNotifyKey()


MODELS: list[type[Model]] = [MerchantAccount]

# A client holds its keys: it is made again after this long, so a rotated key is picked up.
ADAPTER_TTL_SECONDS = 300
_adapters = cache("merchant_adapters", ttl_seconds=ADAPTER_TTL_SECONDS)


def site_key(kind: str, site_id: str) -> str:
    if kind not in SITE_KINDS:
        raise Invalid(f"a site is one of {', '.join(SITE_KINDS)}", "invalid_site")
    return f"{kind}#{site_id}"


def put_wechat(
    kind: str,
    site_id: str,
    *,
    operator_id: str,
    mchid: str,
    appid: str,
    merchant_serial_no: str,
    public_key_id: str,
    key_store: str,
    private_key_name: str,
    public_key_name: str,
    apiv3_key_name: str,
    now: datetime,
) -> MerchantAccount:
    """Name the WeChat Pay account a site's payments go to (replaces the one it had)."""
    for name in (private_key_name, public_key_name, apiv3_key_name):
        _check_key_name(key_store, name)
    account = MerchantAccount(
        site_key(kind, site_id),
        WECHAT,
        operator_id=operator_id,
        notify_key=f"{WECHAT}#{public_key_id}",
        app_id=appid,
        merchant_id=mchid,
        merchant_serial_no=merchant_serial_no,
        public_key_id=public_key_id,
        key_store=key_store,
        private_key_name=private_key_name,
        provider_key_name=public_key_name,
        apiv3_key_name=apiv3_key_name,
        updated_at=now,
    )
    account.save()
    return account


def put_alipay(
    kind: str,
    site_id: str,
    *,
    operator_id: str,
    app_id: str,
    seller_id: str,
    key_store: str,
    private_key_name: str,
    alipay_public_key_name: str,
    now: datetime,
) -> MerchantAccount:
    """Name the Alipay app and seller a site's payments go to (replaces the one it had)."""
    for name in (private_key_name, alipay_public_key_name):
        _check_key_name(key_store, name)
    account = MerchantAccount(
        site_key(kind, site_id),
        ALIPAY,
        operator_id=operator_id,
        notify_key=f"{ALIPAY}#{app_id}",
        app_id=app_id,
        merchant_id=seller_id,
        key_store=key_store,
        private_key_name=private_key_name,
        provider_key_name=alipay_public_key_name,
        updated_at=now,
    )
    account.save()
    return account


def _check_key_name(store: str, name: str) -> None:
    if store not in KEY_STORES:
        raise Invalid(f"key_store is one of {', '.join(KEY_STORES)}", "invalid_key_store")
    prefix = KEY_PREFIX[store]
    if not name.startswith(prefix) or len(name) > 512 or ".." in name:
        raise Invalid(f"merchant keys live under {prefix} in {store}", "invalid_key_name")


def account_of(kind: str, site_id: str, provider: str) -> MerchantAccount:
    """The site's account with `provider`; NoMerchantAccount (409) when it has none."""
    if provider not in PROVIDERS:
        raise Invalid(f"provider is one of {', '.join(PROVIDERS)}", "unsupported_method")
    account = get_or_none(MerchantAccount, site_key(kind, site_id), provider)
    if account is None:
        raise NoMerchantAccount(
            f"{kind} {site_id} has no {provider} merchant account: it takes no {provider} payments",
        )
    return account


def accounts_for_notification(provider: str, key: str) -> list[MerchantAccount]:
    """The accounts a notification names (by WeChat public key id / Alipay app id)."""
    if not key or len(key) > 128:
        return []
    return list(MerchantAccount.by_notify_key.query(f"{provider}#{key}", limit=20))


# -- keys and clients


def _secret(store: str, name: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    _check_key_name(store, name)
    max_age = get_settings().provider_key_cache_seconds
    if store == SSM:
        value: Any = parameters.get_parameter(name, decrypt=True, max_age=max_age)
    else:
        value = parameters.get_secret(name, max_age=max_age)
    if isinstance(value, bytes):
        value = value.decode()
    return str(value)


def notify_base() -> str | None:
    """The public base URL the providers call back: PARKCHARGE_NOTIFY_BASE_URL, or the SSM
    parameter the CDK stack writes with the API's URL."""
    settings = get_settings()
    if settings.notify_base_url or not settings.notify_base_url_param:
        return settings.notify_base_url
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_parameter(
        settings.notify_base_url_param, max_age=settings.provider_key_cache_seconds
    )
    return str(value) or None


def notify_url(provider: str) -> str | None:
    base = notify_base()
    return base.rstrip("/") + NOTIFY_PATHS[provider] if base else None


def wechat_refund_notify_url() -> str | None:
    base = notify_base()
    return base.rstrip("/") + WECHAT_REFUND_NOTIFY_PATH if base else None


def _identity(account: MerchantAccount) -> tuple[str, ...]:
    return (
        str(account.provider),
        str(account.app_id),
        str(account.merchant_id),
        str(account.merchant_serial_no or ""),
        str(account.public_key_id or ""),
        str(account.key_store),
        str(account.private_key_name),
        str(account.provider_key_name),
        str(account.apiv3_key_name or ""),
    )


def wechat_adapter(account: MerchantAccount) -> WeChatPayAdapter:
    """A client for the account (kept `ADAPTER_TTL_SECONDS` per account and key names)."""
    identity = _identity(account)
    adapter = _adapters.get(identity)
    if adapter is None:
        store = str(account.key_store)
        adapter = WeChatPayAdapter(
            WeChatAccount(
                mchid=str(account.merchant_id),
                appid=str(account.app_id),
                merchant_serial_no=str(account.merchant_serial_no),
                public_key_id=str(account.public_key_id),
                private_key=_secret(store, str(account.private_key_name)),
                public_key=_secret(store, str(account.provider_key_name)),
                apiv3_key=_secret(store, str(account.apiv3_key_name)),
            ),
            gateway_url=get_settings().wechat_gateway_url,
            notify_url=notify_url(WECHAT),
        )
        _adapters.put(identity, adapter)
    assert isinstance(adapter, WeChatPayAdapter)
    return adapter


def alipay_adapter(account: MerchantAccount) -> AlipayAdapter:
    identity = _identity(account)
    adapter = _adapters.get(identity)
    if adapter is None:
        store = str(account.key_store)
        adapter = AlipayAdapter(
            AlipayAccount(
                app_id=str(account.app_id),
                seller_id=str(account.merchant_id),
                private_key=_secret(store, str(account.private_key_name)),
                alipay_public_key=_secret(store, str(account.provider_key_name)),
            ),
            gateway_url=get_settings().alipay_gateway_url,
            notify_url=notify_url(ALIPAY),
        )
        _adapters.put(identity, adapter)
    assert isinstance(adapter, AlipayAdapter)
    return adapter
