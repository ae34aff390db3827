"""moto for the integration tests: every table created once per session (from the same models the
CDK and local stacks use), emptied before each test, which is far cheaper than creating ~20 tables
per test."""

from __future__ import annotations

from typing import Any

import boto3
from pynamodb.models import Model

from chalicelib.tables import ALL_MODELS


def _key_names(model: type[Model]) -> list[str]:
    return [name for name in (model._hash_keyname, model._range_keyname) if name]


def empty_tables(client: Any | None = None) -> int:
    """Delete every item of every table (a scan of the keys and batched deletes; fine for tests,
    never for a request path). Returns how many items were deleted."""
    client = client or boto3.client("dynamodb", region_name=ALL_MODELS[0].Meta.region)
    deleted = 0
    for model in ALL_MODELS:
        table = model.Meta.table_name
        keys = _key_names(model)
        names = {f"#k{i}": key for i, key in enumerate(keys)}
        scan: dict[str, Any] = {
            "TableName": table,
            "ProjectionExpression": ", ".join(names),
            "ExpressionAttributeNames": names,
        }
        while True:
            page = client.scan(**scan)
            requests = [{"DeleteRequest": {"Key": item}} for item in page.get("Items", [])]
            for start in range(0, len(requests), 25):
                batch: dict[str, Any] = {table: requests[start : start + 25]}
                while batch:
                    batch = client.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
            deleted += len(requests)
            if "LastEvaluatedKey" not in page:
                break
            scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return deleted
