"""Tokens: numeric dates must be numbers, and staff roles and operator scope count only from the
staff pool's tokens (AWS: two user pools; staff's with MFA required and admin-assigned claims)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from chalice.test import Client

from infra.local.keys import JWT_KID, LOCAL_AUDIENCE, LOCAL_ISSUER
from tests.conftest import KEYS

STAFF_ISSUER = "https://cognito-idp.example/staff-pool"


def signed(claims: dict[str, Any]) -> dict[str, str]:
    token = jwt.encode(claims, KEYS.jwt_private.read_bytes(), algorithm="RS256", headers={"kid": JWT_KID})
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {
        "sub": "demo-staff",
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "iat": now,
        "exp": now + 600,
        **extra,
    }


def test_a_token_whose_exp_is_a_numeric_string_is_refused(client: Client) -> None:
    ok = client.http.get("/v1/driver/plates", headers=signed(claims(**{"cognito:groups": ["driver"]})))
    assert ok.status_code == 200
    for name in ("exp", "iat", "nbf"):
        bad = claims(**{"cognito:groups": ["driver"]})
        bad[name] = str(int(time.time()) + (600 if name == "exp" else -10))
        answer = client.http.get("/v1/driver/plates", headers=signed(bad))
        assert answer.status_code == 401 and answer.json_body["code"] == "invalid_token", (name, answer.body)


@pytest.fixture
def two_pools(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from chalicelib.shared import auth, settings

    monkeypatch.setenv("PARKCHARGE_STAFF_JWT_ISSUER", STAFF_ISSUER)
    monkeypatch.setenv("PARKCHARGE_STAFF_JWT_AUDIENCE", "staff-client")
    settings.get_settings.cache_clear()
    auth.reset_keys()
    yield
    monkeypatch.delenv("PARKCHARGE_STAFF_JWT_ISSUER")
    monkeypatch.delenv("PARKCHARGE_STAFF_JWT_AUDIENCE")
    settings.get_settings.cache_clear()
    auth.reset_keys()


def test_staff_claims_count_only_from_the_staff_pool(client: Client, two_pools: None) -> None:
    staff_claims = {"cognito:groups": ["staff"], "custom:operator_id": "demo-op"}
    # A driver-pool token claiming staff and an operator (as if the user had written them): no.
    forged = client.http.get("/v1/ops/lots", headers=signed(claims(**staff_claims)))
    assert forged.status_code == 403 and forged.json_body["code"] == "staff_only"
    real = client.http.get(
        "/v1/ops/lots", headers=signed(claims(iss=STAFF_ISSUER, aud="staff-client", **staff_claims))
    )
    assert real.status_code == 200 and [lot["lot_id"] for lot in real.json_body["lots"]] == ["demo-lot"]
    wrong_audience = client.http.get(
        "/v1/ops/lots", headers=signed(claims(iss=STAFF_ISSUER, aud=LOCAL_AUDIENCE, **staff_claims))
    )
    assert wrong_audience.status_code == 401
