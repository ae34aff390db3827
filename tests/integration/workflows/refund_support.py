"""What the refund tests share: the sandbox provider's fake on loopback, a completed charge
session and a paid parking payment through the real handlers, and the refund machine's part
played by calling its task handlers in the order the ASL does."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.payments.models import Payment
from tests.conftest import KEYS
from tests.support.charger import FakeCharger
from tests.support.tokens import auth, staff

CS = staff("demo-op", "cs-1", roles=("customer_service",))
FIN = staff("demo-op", "fin-1", roles=("finance",))
PLAIN = staff("demo-op", "plain-1", roles=())
OTHER_CS = staff("other-op", "cs-9", roles=("customer_service",))
DRIVER = auth()


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def provider(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The local fake of the sandbox provider on a free loopback port, its URL in the settings."""
    from chalicelib.shared.settings import get_settings
    from infra.local.sandbox_provider import SandboxProvider

    fake = SandboxProvider("127.0.0.1", 0, "http://127.0.0.1:9", KEYS.pay_private)
    fake.start()
    monkeypatch.setenv("PARKCHARGE_SANDBOX_PAY_URL", f"http://127.0.0.1:{fake.port}")
    get_settings.cache_clear()
    yield fake
    fake.stop()
    monkeypatch.delenv("PARKCHARGE_SANDBOX_PAY_URL", raising=False)
    get_settings.cache_clear()


def post(client: Client, path: str, headers: dict[str, str], body: dict[str, Any] | None = None) -> Any:
    return client.http.post(path, headers=headers, body=json.dumps(body if body is not None else {}))


def completed_session(client: Client, charger: FakeCharger) -> tuple[str, int]:
    """A completed charge session of the demo driver (5000 prepaid): its id and what is refundable
    (the bill up to the prepay: a time-of-use peak can make the bill larger than the prepay)."""
    from chalicelib.charging.models import ChargingSession
    from tests.integration.charging.test_sessions import started

    at = now()
    session_id, tx = started(client, charger, at)
    charger.stop(tx, 130_000, at + timedelta(minutes=4))
    settled = ChargingSession.get(session_id)
    refundable = int(settled.prepaid_fen) - int(settled.refunded_fen)
    assert 0 < refundable == min(int(settled.bill["total_fen"]), int(settled.prepaid_fen))
    return session_id, refundable


def paid_twice(client: Client) -> tuple[str, str, int]:
    """Two payments of one 250 fee (two quotes both paid): (first, second, fee); the second's
    whole amount is an open refund obligation."""
    from tests.integration.parking.test_one_payable_amount import enter_at, pay
    from tests.integration.payments.test_payments import notify, quote

    enter_at(now() - timedelta(minutes=10))
    first = pay(client, quote(client))
    second = pay(client, quote(client))
    assert notify(client, first, 250, txn="txn-a").status_code == 200
    assert notify(client, second, 250, txn="txn-b").status_code == 200
    assert int(Payment.get(second).excess_fen) == 250
    return first, second, 250


def machine(refund_id: str, *, provider_failures: int = 0, fake: Any = None) -> dict[str, Any]:
    """Play the refund machine until it waits for a person or ends: Next → (WaitForReview | Pay
    with its retries | Release) → Notify. Returns where it stopped."""
    from chalicelib.payments.ports import ProviderUnavailable
    from chalicelib.workflows import refund_tasks, tasks

    ref = {"approval_id": refund_id}
    nxt = tasks.next_step(ref, now())
    if nxt["action"] == "wait":
        token = f"token-{uuid.uuid4().hex}"
        tasks.wait({**ref, "level": nxt["level"], "token": token}, now())
        return {"at": "wait", "level": nxt["level"], "token": token}
    if nxt["action"] == "rejected":
        refund_tasks.rejected(ref, now())
        return {"at": "end", **refund_tasks.notify(ref, now())}
    attempts = 0
    for _ in range(4):  # the first call and MaxAttempts 3 retries
        attempts += 1
        try:
            paid = refund_tasks.pay(ref, now())
        except ProviderUnavailable as error:
            last = error
            continue
        return {"at": "end", "attempts": attempts, **paid, **refund_tasks.notify(ref, now())}
    refund_tasks.failed({**ref, "error": {"Error": "ProviderUnavailable", "Cause": str(last)}}, now())
    return {"at": "failed", "attempts": attempts, **refund_tasks.notify(ref, now())}


def decide(
    client: Client, refund_id: str, headers: dict[str, str], level: int, decision: str, reason: str = ""
) -> Any:
    body: dict[str, Any] = {"level": level, "decision": decision}
    if reason:
        body["reason"] = reason
    return post(client, f"/v1/ops/approvals/{refund_id}/decisions", headers, body)
