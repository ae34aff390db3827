"""The local stack's merchant accounts with the fake providers: the keys it generated
(`keys.ensure_provider_keys`) are stored as SSM SecureString parameters (the app reads them
through Powertools parameters, as in AWS) and the demo lot and station name accounts with them.
The fakes get the other halves of the key pairs. Tests use the same functions (in moto)."""

from __future__ import annotations

from datetime import datetime

import boto3

from chalicelib.payments import merchants
from infra.local import keys as local_keys

PREFIX = merchants.KEY_PREFIX[merchants.SSM] + "local/"
WECHAT_KEYS = {
    "private_key_name": PREFIX + "wechat/merchant-private-key",
    "public_key_name": PREFIX + "wechat/platform-public-key",
    "apiv3_key_name": PREFIX + "wechat/apiv3-key",
}
ALIPAY_KEYS = {
    "private_key_name": PREFIX + "alipay/app-private-key",
    "alipay_public_key_name": PREFIX + "alipay/alipay-public-key",
}


def store_keys(keys: local_keys.ProviderKeys, region: str) -> None:
    """The app's halves of the key pairs, as SecureString parameters."""
    ssm = boto3.client("ssm", region_name=region)
    values = {
        WECHAT_KEYS["private_key_name"]: keys.wechat / "merchant.pem",
        WECHAT_KEYS["public_key_name"]: keys.wechat / "platform.pub.pem",
        WECHAT_KEYS["apiv3_key_name"]: keys.wechat / "apiv3.key",
        ALIPAY_KEYS["private_key_name"]: keys.alipay / "app.pem",
        ALIPAY_KEYS["alipay_public_key_name"]: keys.alipay / "alipay.pub.pem",
    }
    for name, path in values.items():
        ssm.put_parameter(Name=name, Value=path.read_text().strip(), Type="SecureString", Overwrite=True)


def name_accounts(kind: str, site_id: str, operator_id: str, now: datetime) -> None:
    """The site takes WeChat Pay and Alipay with the local merchant identities."""
    merchants.put_wechat(
        kind,
        site_id,
        operator_id=operator_id,
        mchid=local_keys.WECHAT_MCHID,
        appid=local_keys.WECHAT_APPID,
        merchant_serial_no=local_keys.WECHAT_MERCHANT_SERIAL,
        public_key_id=local_keys.WECHAT_PUBLIC_KEY_ID,
        key_store=merchants.SSM,
        now=now,
        **WECHAT_KEYS,
    )
    merchants.put_alipay(
        kind,
        site_id,
        operator_id=operator_id,
        app_id=local_keys.ALIPAY_APP_ID,
        seller_id=local_keys.ALIPAY_SELLER_ID,
        key_store=merchants.SSM,
        now=now,
        **ALIPAY_KEYS,
    )
