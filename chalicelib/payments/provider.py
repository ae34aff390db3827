"""The payment providers behind one interface. Today: the sandbox provider (local and test
stages); WeChat Pay and Alipay adapters plug in here with their own keys and formats.

Refunds: `refund` asks the provider to pay back part of a payment, numbered by parkcharge's refund
id (the provider makes one refund per number, so asking again after a timeout never refunds
twice). A provider that is down, slow or answers 5xx raises ProviderUnavailable (the workflow
retries it with back-off); one that refuses the refund (4xx, or an answer that does not verify)
raises ProviderRefused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
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


class ProviderUnavailable(Exception):
    """The provider did not answer, or answered that it cannot now: try again later."""


class ProviderRefused(Exception):
    """The provider refused the refund (or its answer is not its own): trying again will not help."""


@dataclass(frozen=True)
class ProviderRefund:
    provider_refund_id: str
    amount_fen: int
    status: str


REFUND_TIMEOUT_SECONDS = 10


def refund(
    provider: str, *, refund_no: str, trade_no: str, amount_fen: int, total_fen: int
) -> ProviderRefund:
    """Pay `amount_fen` of the payment `trade_no` back through its provider, numbered `refund_no`."""
    if provider != sandbox.PROVIDER:
        raise ProviderRefused(f"no refund adapter for provider {provider}")
    base = get_settings().sandbox_pay_url
    if not base:
        raise ProviderUnavailable("the sandbox provider's URL is not configured")
    body = sandbox.refund_request(refund_no, trade_no, amount_fen, total_fen)
    request = urllib.request.Request(  # noqa: S310 - the configured provider URL
        base.rstrip("/") + sandbox.REFUND_PATH,
        data=body.encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=REFUND_TIMEOUT_SECONDS) as reply:  # noqa: S310
            status, headers, raw = reply.status, reply.headers, reply.read()
    except urllib.error.HTTPError as err:
        detail = err.read().decode(errors="replace")[:200]
        if err.code >= 500 or err.code == 429:
            raise ProviderUnavailable(f"the provider answered {err.code}: {detail}") from err
        raise ProviderRefused(f"the provider refused the refund ({err.code}): {detail}") from err
    except OSError as err:  # refused, reset, timed out
        raise ProviderUnavailable(f"the provider is unreachable: {err}") from err
    text = raw.decode()
    try:
        answer = sandbox.verify_refund(sandbox_public_key(), headers, text, now=datetime.now(UTC))
    except (sandbox.SignatureError, ValueError) as exc:
        raise ProviderRefused(f"the provider's answer ({status}) does not verify: {exc}") from exc
    if answer.out_refund_no != refund_no or answer.amount_fen != amount_fen:
        raise ProviderRefused(f"the provider answered for another refund: {json.dumps(text)[:200]}")
    if answer.status != sandbox.REFUND_SUCCESS:
        raise ProviderUnavailable(f"the provider's refund is {answer.status}")
    return ProviderRefund(answer.refund_id, answer.amount_fen, answer.status)
