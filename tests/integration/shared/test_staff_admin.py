"""Staff accounts are created by an administrator with their operator and roles (moto's Cognito)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from infra.aws.staff import create_staff, move_staff


def test_an_administrator_creates_staff_with_operator_and_roles() -> None:
    with mock_aws():
        client = boto3.client("cognito-idp", region_name="us-east-1")
        pool = client.create_user_pool(
            PoolName="staff",
            Schema=[{"Name": "operator_id", "AttributeDataType": "String", "Mutable": True}],
        )["UserPool"]["Id"]
        for group in ("staff", "cashier", "finance"):
            client.create_group(UserPoolId=pool, GroupName=group)
        create_staff(client, pool, "li.cashier", "li@example.com", "demo-op", ["cashier"])
        user = client.admin_get_user(UserPoolId=pool, Username="li.cashier")
        attributes = {a["Name"]: a["Value"] for a in user["UserAttributes"]}
        assert attributes["custom:operator_id"] == "demo-op"
        groups = client.admin_list_groups_for_user(UserPoolId=pool, Username="li.cashier")["Groups"]
        assert {g["GroupName"] for g in groups} == {"staff", "cashier"}
        move_staff(client, pool, "li.cashier", "other-op")
        user = client.admin_get_user(UserPoolId=pool, Username="li.cashier")
        assert {a["Name"]: a["Value"] for a in user["UserAttributes"]}["custom:operator_id"] == "other-op"
        with pytest.raises(ValueError, match="unknown roles"):
            create_staff(client, pool, "x", "x@example.com", "demo-op", ["root"])
