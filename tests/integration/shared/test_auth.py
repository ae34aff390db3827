"""Who is calling: health needs no token, every other route a valid one signed by the user pool."""

from __future__ import annotations

import time

import jwt
from chalice.test import Client

from infra.local.keys import mint_token
from tests.conftest import KEYS


def test_health_needs_no_token(client: Client) -> None:
    assert client.http.get("/v1/health").json_body["status"] == "ok"


def test_driver_routes_need_a_valid_token(client: Client) -> None:
    assert client.http.get("/v1/driver/plates").status_code == 401
    bad = client.http.get("/v1/driver/plates", headers={"Authorization": "Bearer not-a-jwt"})
    assert bad.status_code == 401 and bad.json_body["code"] == "invalid_token"
    expired = mint_token(KEYS, "demo-driver", ["driver"], now=int(time.time()) - 3 * 86400, ttl_seconds=60)
    old = client.http.get("/v1/driver/plates", headers={"Authorization": f"Bearer {expired}"})
    assert old.status_code == 401 and old.json_body["code"] == "token_expired"
    foreign = jwt.encode(
        {"sub": "x", "iss": "someone-else", "exp": int(time.time()) + 60, "cognito:groups": ["driver"]},
        KEYS.jwt_private.read_bytes(),
        algorithm="RS256",
        headers={"kid": "parkcharge-local-1"},
    )
    assert (
        client.http.get("/v1/driver/plates", headers={"Authorization": f"Bearer {foreign}"}).status_code
        == 401
    )
