"""Shared bits of the PynamoDB models. Table names carry the stage prefix from the environment,
so the same classes serve the CDK stack, the local stack and the tests."""

from __future__ import annotations

from chalicelib.settings import get_settings, table_name


class TableMeta:
    """Base of every model's Meta: region from the settings, on-demand capacity."""

    region = get_settings().region
    billing_mode = "PAY_PER_REQUEST"


def table_name_for(base: str) -> str:
    return table_name(base)
