"""Who is calling. One mechanism in AWS and locally: a JWT (a Cognito ID token in AWS, a token
signed by the local stack's generated key locally) verified against the issuer's JWKS.

Claims: `sub` (user id), `cognito:groups` (roles), `custom:operator_id` (staff scope).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import jwt

from chalicelib.shared.errors import Forbidden, Unauthorized
from chalicelib.shared.settings import get_settings

DRIVER = "driver"
STAFF = "staff"


@dataclass(frozen=True)
class Principal:
    user_id: str
    groups: frozenset[str]
    operator_id: str | None

    @property
    def operator(self) -> str:
        """The staff member's operator (require_staff guarantees there is one)."""
        if not self.operator_id:
            raise Forbidden("this route is for staff of an operator", "staff_only")
        return self.operator_id


class _Keys:
    """Signing keys by kid, from the JWKS file (local) or URL (AWS), fetched once per container."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_kid: dict[str, Any] = {}
        self._client: jwt.PyJWKClient | None = None

    def key_for(self, token: str) -> Any:
        settings = get_settings()
        if settings.jwks_url:
            with self._lock:
                if self._client is None:
                    self._client = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=3600)
            return self._client.get_signing_key_from_jwt(token).key
        kid = str(jwt.get_unverified_header(token).get("kid", ""))
        with self._lock:
            if not self._by_kid:
                if not settings.jwks_file:
                    raise Unauthorized("token verification is not configured")
                with open(settings.jwks_file, encoding="utf-8") as handle:
                    jwks = json.load(handle)
                for jwk in jwks.get("keys", []):
                    self._by_kid[str(jwk.get("kid", ""))] = jwt.PyJWK(jwk).key
            key = self._by_kid.get(kid)
        if key is None:
            raise Unauthorized("token signed by an unknown key")
        return key

    def reset(self) -> None:
        with self._lock:
            self._by_kid.clear()
            self._client = None


_keys = _Keys()


def reset_keys() -> None:
    _keys.reset()


def authenticate(headers: Any) -> Principal:
    header = (headers or {}).get("authorization") or (headers or {}).get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("an 'Authorization: Bearer <token>' header is required")
    settings = get_settings()
    try:
        claims = jwt.decode(
            token,
            _keys.key_for(token),
            algorithms=["RS256"],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub", "iss"], "verify_aud": settings.jwt_audience is not None},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("the token has expired", "token_expired") from exc
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthorized(f"the token is not valid: {exc}", "invalid_token") from exc
    sub = claims.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 128 or "\x00" in sub:
        raise Unauthorized("the token is not valid: its subject is empty", "invalid_token")
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            # RFC 7519 NumericDate: a number. PyJWT also takes "1700000000" (a string); we do not.
            raise Unauthorized(f"the token is not valid: '{name}' must be a number", "invalid_token")
    groups = claims.get("cognito:groups") or []
    if not isinstance(groups, list):
        groups = [groups]
    operator = claims.get("custom:operator_id")
    return Principal(sub, frozenset(str(g) for g in groups), str(operator) if operator else None)


def require_driver(headers: Any) -> Principal:
    principal = authenticate(headers)
    if DRIVER not in principal.groups:
        raise Forbidden("this route is for drivers", "driver_only")
    return principal


def require_staff(headers: Any) -> Principal:
    principal = authenticate(headers)
    if STAFF not in principal.groups or not principal.operator_id:
        raise Forbidden("this route is for staff of an operator", "staff_only")
    return principal
