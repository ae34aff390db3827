"""Shared bits of the PynamoDB models. Table names carry the stage prefix from the environment,
so the same classes serve the CDK stack, the local stack and the tests."""

from __future__ import annotations

from functools import lru_cache

from pynamodb.connection import Connection

from chalicelib.settings import get_settings, table_name


class TableMeta:
    """Base of every model's Meta: region from the settings, on-demand capacity."""

    region = get_settings().region
    billing_mode = "PAY_PER_REQUEST"


def table_name_for(base: str) -> str:
    return table_name(base)


@lru_cache(maxsize=1)
def connection() -> Connection:
    """One PynamoDB connection per container for transactions (its botocore client is reused)."""
    return Connection(region=get_settings().region)


def reset_connection() -> None:
    connection.cache_clear()
