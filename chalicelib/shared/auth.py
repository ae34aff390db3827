"""Who is calling. One mechanism in AWS and locally: a JWT (a Cognito ID token in AWS, a token
signed by the local stack's generated key locally) verified against the issuer's JWKS.

Claims: `sub` (user id), `cognito:groups` (roles), `custom:operator_id` (staff scope).

In AWS drivers and staff sign in to two user pools: staff to their own pool (MFA required,
operator and roles assigned by an administrator, not writable by the user). Staff roles and the
operator scope are taken only from that pool's tokens; a driver-pool token never carries them,
whatever its claims say. Locally one issuer signs both kinds.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalicelib.shared.errors import Forbidden, Unauthorized
from chalicelib.shared.settings import get_settings

DRIVER = "driver"
STAFF = "staff"
# Merchant staff (商家): a group of the staff pool; which merchant a person belongs to and whether
# they are its super admin is the coupons context's record (one merchant per person).
MERCHANT = "merchant"
# Staff roles: Cognito groups of the staff pool (infra/aws/staff.py), each scoped to the member's
# operator. `ops_admin` holds every role.
CASHIER = "cashier"
CUSTOMER_SERVICE = "customer_service"
FINANCE = "finance"
OPS_ADMIN = "ops_admin"
ROLES = (CASHIER, CUSTOMER_SERVICE, FINANCE, OPS_ADMIN)

if TYPE_CHECKING:  # jwt (and cryptography) are imported on the first request, not at cold start
    import jwt


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

    @property
    def roles(self) -> frozenset[str]:
        """The staff roles held (every role for an ops_admin)."""
        if OPS_ADMIN in self.groups:
            return frozenset(ROLES)
        return self.groups & frozenset(ROLES)

    def has_role(self, *roles: str) -> bool:
        """True when the member holds one of `roles` (an ops_admin holds them all)."""
        return bool(self.roles & set(roles))


class _Keys:
    """Signing keys by kid, from the JWKS file (local) or URL (AWS), fetched once per container."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_kid: dict[str, Any] = {}
        self._clients: dict[str, jwt.PyJWKClient] = {}

    def key_for(self, token: str, jwks_url: str | None) -> Any:
        import jwt

        settings = get_settings()
        if jwks_url:
            with self._lock:
                client = self._clients.get(jwks_url)
                if client is None:
                    client = self._clients[jwks_url] = jwt.PyJWKClient(
                        jwks_url, cache_keys=True, lifespan=3600
                    )
            return client.get_signing_key_from_jwt(token).key
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
            self._clients.clear()


_keys = _Keys()


def reset_keys() -> None:
    _keys.reset()


def authenticate(headers: Any) -> Principal:
    import jwt

    header = (headers or {}).get("authorization") or (headers or {}).get("Authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("an 'Authorization: Bearer <token>' header is required")
    settings = get_settings()
    issuer, audience, jwks_url = settings.jwt_issuer, settings.jwt_audience, settings.jwks_url
    staff_pool = settings.staff_jwt_issuer is None  # locally one issuer signs both kinds
    try:
        claimed = jwt.decode(token, options={"verify_signature": False}).get("iss")
        if settings.staff_jwt_issuer is not None and claimed == settings.staff_jwt_issuer:
            issuer, audience, jwks_url = (
                settings.staff_jwt_issuer,
                settings.staff_jwt_audience,
                settings.staff_jwks_url,
            )
            staff_pool = True
        claims = jwt.decode(
            token,
            _keys.key_for(token, jwks_url),
            algorithms=["RS256"],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub", "iss"], "verify_aud": audience is not None},
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
    operator = claims.get("custom:operator_id") if staff_pool else None
    if not staff_pool:
        groups = [g for g in groups if g not in (STAFF, MERCHANT)]
    return Principal(sub, frozenset(str(g) for g in groups), str(operator) if operator else None)


def require_driver(headers: Any) -> Principal:
    principal = authenticate(headers)
    if DRIVER not in principal.groups:
        raise Forbidden("this route is for drivers", "driver_only")
    return principal


def require_staff(headers: Any, roles: tuple[str, ...] = ()) -> Principal:
    """A staff member of an operator; with `roles`, one who holds one of them."""
    principal = authenticate(headers)
    if STAFF not in principal.groups or not principal.operator_id:
        raise Forbidden("this route is for staff of an operator", "staff_only")
    if roles and not principal.has_role(*roles):
        raise Forbidden(f"this route needs the role {' or '.join(roles)}", "role_required")
    return principal


def require_merchant(headers: Any) -> Principal:
    """A merchant's staff member (the merchant itself is looked up by the coupons context)."""
    principal = authenticate(headers)
    if MERCHANT not in principal.groups:
        raise Forbidden("this route is for merchant staff", "merchant_only")
    return principal
