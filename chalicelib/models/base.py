"""Shared bits of the PynamoDB models. Table names carry the stage prefix from the environment,
so the same classes serve the CDK stack, the local stack and the tests."""

from __future__ import annotations

from chalicelib.settings import get_settings, table_name


def meta(base: str) -> type:
    """A PynamoDB Meta class for table `base`."""

    class Meta:
        table_name = table_name_for(base)
        region = get_settings().region
        billing_mode = "PAY_PER_REQUEST"

    return Meta


def table_name_for(base: str) -> str:
    return table_name(base)
