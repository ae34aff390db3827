"""The administrator's path for staff accounts: staff cannot set their own operator or roles (the
app client may not write `custom:operator_id`, groups are admin-only), so an administrator with
Cognito admin rights creates the account with its operator and adds it to its role groups.

python -m infra.aws.staff --pool-id POOL --username NAME --email MAIL --operator OP [--role cashier ...]
"""

from __future__ import annotations

import argparse
from typing import Any

ROLES = ("staff", "cashier", "customer_service", "finance", "ops_admin")


def create_staff(
    client: Any, pool_id: str, username: str, email: str, operator_id: str, roles: list[str]
) -> dict[str, Any]:
    """Create a staff account (Cognito mails a temporary password; MFA is set up at first sign-in)
    with its operator, in the `staff` group and the given role groups."""
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise ValueError(f"unknown roles {unknown}; one of {', '.join(ROLES)}")
    user = client.admin_create_user(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "custom:operator_id", "Value": operator_id},
        ],
        DesiredDeliveryMediums=["EMAIL"],
    )["User"]
    for group in dict.fromkeys(["staff", *roles]):
        client.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    return dict(user)


def move_staff(client: Any, pool_id: str, username: str, operator_id: str) -> None:
    """Assign a staff member to another operator (administrators only)."""
    client.admin_update_user_attributes(
        UserPoolId=pool_id,
        Username=username,
        UserAttributes=[{"Name": "custom:operator_id", "Value": operator_id}],
    )


def main() -> None:
    import boto3

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pool-id", required=True)
    parser.add_argument("--username", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--operator", required=True)
    parser.add_argument("--role", action="append", default=[], choices=ROLES)
    args = parser.parse_args()
    create_staff(
        boto3.client("cognito-idp"), args.pool_id, args.username, args.email, args.operator, args.role
    )


if __name__ == "__main__":
    main()
