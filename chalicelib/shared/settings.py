"""One place that reads the environment. Everything else asks `get_settings()`.

The same variables configure the Lambda functions in AWS (set by the CDK stack) and the local
stack (set by `infra.local`). Nothing here performs I/O besides reading environment variables.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    return int(raw) if raw not in (None, "") else default


@dataclass(frozen=True)
class Settings:
    stage: str
    region: str
    table_prefix: str
    # Downlink transport: "iot" (AWS IoT data plane) or "mqtt" (a local broker).
    downlink: str
    iot_data_endpoint: str | None
    mqtt_host: str
    mqtt_port: int
    # Auth: tokens are JWTs signed by the user pool (AWS) or by the local stack's key.
    jwt_issuer: str
    jwt_audience: str | None
    jwks_url: str | None
    jwks_file: str | None
    # The staff pool (AWS: its own Cognito user pool, MFA required). Unset locally: one issuer
    # signs every token. When set, staff roles and operator scope count only from its tokens.
    staff_jwt_issuer: str | None
    staff_jwt_audience: str | None
    staff_jwks_url: str | None
    # Payments: the sandbox provider's public key (PEM file locally, SSM parameter in AWS).
    sandbox_pay_public_key_file: str | None
    sandbox_pay_public_key_param: str | None
    # The sandbox provider's API (refunds), e.g. http://127.0.0.1:8002 locally.
    sandbox_pay_url: str | None
    # WeChat Pay and Alipay: where their APIs are (the local fakes' URLs locally, the providers'
    # gateways otherwise), the public base URL they send notifications to, and how long merchant
    # keys read from SSM / Secrets Manager are kept in the container.
    wechat_gateway_url: str
    alipay_gateway_url: str
    notify_base_url: str | None
    notify_base_url_param: str | None  # an SSM parameter holding it (the CDK stack writes the API's URL)
    provider_key_cache_seconds: int
    # Caching and business defaults.
    config_cache_seconds: int
    quote_ttl_minutes: int
    command_timeout_seconds: int
    iot_dead_letter_queue: str
    # Step Functions: each state machine's ARN by its name ("approval", "refund"), from
    # PARKCHARGE_STATE_MACHINE_<NAME>_ARN (set by the CDK stack and the local stack).
    state_machine_arns: dict[str, str]
    # How long a "day" of an approval's wait lasts, in seconds (86400; a local stack can shorten it
    # to watch escalations happen).
    approval_day_seconds: int

    def state_machine_arn(self, name: str) -> str | None:
        return self.state_machine_arns.get(name)


STATE_MACHINE_ENV = "PARKCHARGE_STATE_MACHINE_{}_ARN"


def state_machine_env(name: str) -> str:
    """The variable holding the ARN of the state machine `name` (infra/statemachines/<name>.asl.json)."""
    return STATE_MACHINE_ENV.format(name.upper())


def _state_machines() -> dict[str, str]:
    prefix, suffix = STATE_MACHINE_ENV.split("{}")
    return {
        key[len(prefix) : -len(suffix)].lower(): value
        for key, value in os.environ.items()
        if key.startswith(prefix) and key.endswith(suffix) and len(key) > len(prefix) + len(suffix) and value
    }


def table_name(base: str) -> str:
    """Physical table name for a logical table (read at model import time)."""
    return f"{os.environ.get('PARKCHARGE_TABLE_PREFIX', 'parkcharge-local-')}{base}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    env = os.environ.get
    return Settings(
        stage=env("PARKCHARGE_STAGE", "local"),
        region=env("AWS_DEFAULT_REGION", env("AWS_REGION", "us-east-1")) or "us-east-1",
        table_prefix=env("PARKCHARGE_TABLE_PREFIX", "parkcharge-local-") or "",
        downlink=env("PARKCHARGE_DOWNLINK", "iot") or "iot",
        iot_data_endpoint=env("PARKCHARGE_IOT_DATA_ENDPOINT"),
        mqtt_host=env("PARKCHARGE_MQTT_HOST", "127.0.0.1") or "127.0.0.1",
        mqtt_port=_int("PARKCHARGE_MQTT_PORT", 1883),
        jwt_issuer=env("PARKCHARGE_JWT_ISSUER", "parkcharge-local") or "parkcharge-local",
        jwt_audience=env("PARKCHARGE_JWT_AUDIENCE") or None,
        jwks_url=env("PARKCHARGE_JWKS_URL") or None,
        jwks_file=env("PARKCHARGE_JWKS_FILE") or None,
        staff_jwt_issuer=env("PARKCHARGE_STAFF_JWT_ISSUER") or None,
        staff_jwt_audience=env("PARKCHARGE_STAFF_JWT_AUDIENCE") or None,
        staff_jwks_url=env("PARKCHARGE_STAFF_JWKS_URL") or None,
        sandbox_pay_public_key_file=env("PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_FILE") or None,
        sandbox_pay_public_key_param=env("PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_PARAM") or None,
        sandbox_pay_url=env("PARKCHARGE_SANDBOX_PAY_URL") or None,
        wechat_gateway_url=env("PARKCHARGE_WECHAT_GATEWAY_URL") or "https://api.mch.weixin.qq.com",
        alipay_gateway_url=env("PARKCHARGE_ALIPAY_GATEWAY_URL") or "https://openapi.alipay.com/gateway.do",
        notify_base_url=env("PARKCHARGE_NOTIFY_BASE_URL") or None,
        notify_base_url_param=env("PARKCHARGE_NOTIFY_BASE_URL_PARAM") or None,
        provider_key_cache_seconds=_int("PARKCHARGE_PROVIDER_KEY_CACHE_SECONDS", 300),
        config_cache_seconds=_int("PARKCHARGE_CONFIG_CACHE_SECONDS", 30),
        quote_ttl_minutes=_int("PARKCHARGE_QUOTE_TTL_MINUTES", 15),
        command_timeout_seconds=_int("PARKCHARGE_COMMAND_TIMEOUT_SECONDS", 30),
        iot_dead_letter_queue=env("PARKCHARGE_IOT_DLQ", "parkcharge-iot-dead-letters") or "",
        state_machine_arns=_state_machines(),
        approval_day_seconds=_int("PARKCHARGE_APPROVAL_DAY_SECONDS", 86_400),
    )
