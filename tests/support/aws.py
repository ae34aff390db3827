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


def _in_process_tables() -> list[Any] | None:
    """moto's own tables when it runs in this process (`mock_aws`) and keeps items as it did when
    this was written (a `defaultdict` per table, no stream); None otherwise."""
    try:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends
    except ImportError:
        return None
    backend = dynamodb_backends[DEFAULT_ACCOUNT_ID][str(ALL_MODELS[0].Meta.region)]
    names = {model.Meta.table_name for model in ALL_MODELS}
    tables = [table for name, table in backend.tables.items() if name in names]
    if len(tables) != len(names) or any(
        not isinstance(table.items, dict) or table.stream_shard is not None for table in tables
    ):
        return None
    return tables


def empty_tables(client: Any | None = None) -> int:
    """Delete every item of every table: in moto's memory when it runs in this process (a test
    costs no scan of ~35 tables), else a scan of the keys and batched deletes (fine for tests,
    never for a request path). Returns how many items were deleted."""
    tables = _in_process_tables()
    if tables is not None:
        deleted = 0
        for table in tables:
            deleted += sum(len(v) if isinstance(v, dict) else 1 for v in table.items.values())
            table.items.clear()
        return deleted
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
