"""The sandbox provider's refund API against its local fake on loopback, as the app's adapter
sees it: one refund per refund number, signed answers verified, a provider that is down told
apart from one that refuses."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from chalicelib.payments import provider as adapter
from tests.integration.workflows.refund_support import provider

__all__ = ["provider"]


def ask(number: str, amount: int, trade: str = "p-1", total: int = 1000) -> adapter.ProviderRefund:
    return adapter.refund("sandbox", refund_no=number, trade_no=trade, amount_fen=amount, total_fen=total)


def test_one_refund_per_refund_number(provider: Any) -> None:
    first = ask("rf-1", 300)
    again = ask("rf-1", 300)
    assert first == again and first.status == "SUCCESS"
    assert list(provider.refunds) == ["rf-1"]
    with pytest.raises(adapter.ProviderRefused, match="409"):
        ask("rf-1", 301)  # the same number for another amount is another refund: refused


def test_never_more_than_the_provider_took_for_the_order(provider: Any) -> None:
    provider.paid["p-9"] = 500
    ask("rf-a", 400, trade="p-9", total=500)
    with pytest.raises(adapter.ProviderRefused, match="400"):
        ask("rf-b", 101, trade="p-9", total=500)


def test_a_provider_that_is_down_is_unavailable_and_the_control_clears(provider: Any) -> None:
    control = f"http://127.0.0.1:{provider.port}/v1/control/refund-failures"
    assert requests.post(control, json={"count": 2}, timeout=5).status_code == 200
    for _ in range(2):
        with pytest.raises(adapter.ProviderUnavailable):
            ask("rf-2", 100)
    assert ask("rf-2", 100).amount_fen == 100
    assert requests.post(control, json={"count": -1}, timeout=5).status_code == 400


def test_an_unreachable_or_unconfigured_provider_is_unavailable(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.shared.settings import get_settings

    monkeypatch.setenv("PARKCHARGE_SANDBOX_PAY_URL", "http://127.0.0.1:9")  # nothing listens there
    get_settings.cache_clear()
    with pytest.raises(adapter.ProviderUnavailable, match="unreachable"):
        ask("rf-3", 100)
    monkeypatch.setenv("PARKCHARGE_SANDBOX_PAY_URL", "")
    get_settings.cache_clear()
    with pytest.raises(adapter.ProviderUnavailable, match="not configured"):
        ask("rf-3", 100)


def test_an_answer_not_signed_by_the_provider_is_refused(
    provider: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from infra.local.keys import ensure_keys

    other = ensure_keys(str(provider.private_key_file.parent.parent / "other-keys"))
    provider.private_key_file = other.pay_private  # the fake signs with a key the app does not trust
    with pytest.raises(adapter.ProviderRefused, match="does not verify"):
        ask("rf-4", 100)
