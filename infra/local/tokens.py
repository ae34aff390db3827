"""`python -m infra.local.tokens ROLE [--sub S] [--operator O]` (`make token ROLE=...`): print a
token signed with the local stack's key, shaped like a Cognito ID token.

ROLE: `driver`; a staff role (`cashier`, `customer_service`, `finance`, `ops_admin`); `staff`,
the demo staff member, who is an ops_admin (every role); or `merchant`, a merchant's staff member
(`--sub`, default demo-merchant; the operator adds the person to a merchant, docs/coupons.md).
"""

from __future__ import annotations

import argparse
import sys

from chalicelib.shared.auth import MERCHANT, OPS_ADMIN, ROLES
from infra.local.keys import ensure_keys, mint_token
from infra.local.stack import DEMO_DRIVER, DEMO_OPERATOR, DEMO_STAFF

DEMO_MERCHANT_STAFF = "demo-merchant"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m infra.local.tokens", description=__doc__)
    p.add_argument("role", nargs="?", choices=("driver", "staff", MERCHANT, *ROLES), default="driver")
    p.add_argument("--sub", help="the user id (default demo-driver / demo-staff)")
    p.add_argument("--operator", help="staff only: the operator id (default demo-op)")
    p.add_argument("--ttl", type=int, default=12 * 3600, help="seconds the token is valid")
    p.add_argument("--state-dir", default=".local")
    args = p.parse_args(argv)
    keys = ensure_keys(f"{args.state_dir}/keys")
    if args.role == "driver":
        token = mint_token(keys, args.sub or DEMO_DRIVER, ["driver"], ttl_seconds=args.ttl)
    elif args.role == MERCHANT:
        token = mint_token(keys, args.sub or DEMO_MERCHANT_STAFF, [MERCHANT], ttl_seconds=args.ttl)
    else:
        token = mint_token(
            keys,
            args.sub or DEMO_STAFF,
            ["staff", OPS_ADMIN if args.role == "staff" else args.role],
            operator_id=args.operator or DEMO_OPERATOR,
            ttl_seconds=args.ttl,
        )
    print(token)
    return 0


if __name__ == "__main__":
    sys.exit(main())
