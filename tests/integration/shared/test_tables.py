"""Tables made from the models: a kept table (the local stack's state) gets the indexes a later
model added, so a query on a new index works without recreating the state."""

from __future__ import annotations

from typing import Any

from chalicelib.payments.models import PENDING_SHARD, Payment
from chalicelib.tables import create_all_tables


def test_a_kept_table_gets_the_indexes_its_model_added_since(aws: None, aws_session: Any) -> None:
    name = Payment.Meta.table_name
    aws_session.delete_table(TableName=name)
    aws_session.create_table(  # as an older model made it: the key, no index
        TableName=name,
        KeySchema=[{"AttributeName": "payment_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "payment_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    create_all_tables()
    indexes = aws_session.describe_table(TableName=name)["Table"].get("GlobalSecondaryIndexes", [])
    assert sorted(i["IndexName"] for i in indexes) == sorted(
        i["index_name"] for i in Payment._get_schema()["global_secondary_indexes"]
    )
    aws_session.put_item(
        TableName=name,
        Item={
            "payment_id": {"S": "p-1"},
            "pending_shard": {"S": PENDING_SHARD},
            "expires_at": {"S": "2026-12-02T03:00:00.000000+0000"},
        },
    )
    found = aws_session.query(
        TableName=name,
        IndexName="pending_open",
        KeyConditionExpression="pending_shard = :s",
        ExpressionAttributeValues={":s": {"S": PENDING_SHARD}},
    )["Items"]
    assert [i["payment_id"]["S"] for i in found] == ["p-1"]
