"""The payment providers behind one interface. Today: the sandbox provider (local and test
stages); WeChat Pay and Alipay adapters plug in here with their own keys and formats."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from chalicelib.payments import sandbox
from chalicelib.shared.settings import get_settings

METHODS = ("sandbox",)


def provider_order(payment_id: str, amount_fen: int, description: str) -> dict[str, Any]:
    """What the driver's app needs to pay at the provider (no I/O for the sandbox)."""
    return {"out_trade_no": payment_id, "amount_fen": amount_fen, "description": description}


@lru_cache(maxsize=1)
def _file_key(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def sandbox_public_key() -> bytes:
    settings = get_settings()
    if settings.sandbox_pay_public_key_file:
        return _file_key(settings.sandbox_pay_public_key_file)
    if settings.sandbox_pay_public_key_param:
        from aws_lambda_powertools.utilities import parameters

        value = parameters.get_parameter(settings.sandbox_pay_public_key_param, max_age=300)
        return str(value).encode()
    raise RuntimeError("no public key configured for the sandbox payment provider")


def verify_sandbox(headers: Any, body: str) -> sandbox.Notification:
    return sandbox.verify(sandbox_public_key(), headers, body, now=datetime.now(UTC))
