"""Tokens signed with the test keys (tests/conftest.py), and the headers a caller sends."""

from __future__ import annotations

from infra.local.keys import mint_token
from tests.conftest import KEYS


def token(sub: str, groups: list[str], operator_id: str | None = None) -> str:
    return mint_token(KEYS, sub, groups, operator_id)


def auth(
    sub: str = "demo-driver", groups: list[str] | None = None, operator_id: str | None = None
) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token(sub, groups or ['driver'], operator_id)}",
        "Content-Type": "application/json",
    }


def staff(
    operator_id: str = "demo-op", sub: str = "demo-staff", roles: tuple[str, ...] = ("ops_admin",)
) -> dict[str, str]:
    """A staff member's headers: by default an ops_admin (every role); `roles=()` for none."""
    return auth(sub, ["staff", *roles], operator_id)


def merchant(sub: str = "demo-merchant") -> dict[str, str]:
    """A merchant staff member's headers (which merchant is the coupons context's record)."""
    return auth(sub, ["merchant"])
