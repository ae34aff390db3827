"""Every table of every context, in one list: the CDK stack and the local stack (and the tests)
build their tables from it, so both runtimes have the same keys, indexes and TTLs."""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.charging.models import MODELS as CHARGING
from chalicelib.coupons.models import MODELS as COUPONS
from chalicelib.ledger.models import MODELS as LEDGER
from chalicelib.parking.models import MODELS as PARKING
from chalicelib.parking.shifts import MODELS as SHIFTS
from chalicelib.payments.idempotency import MODELS as PAYMENT_REQUESTS
from chalicelib.payments.merchants import MODELS as MERCHANTS
from chalicelib.payments.models import MODELS as PAYMENTS
from chalicelib.payments.prestore import MODELS as PRESTORE
from chalicelib.payments.reconcile import MODELS as RECONCILIATION
from chalicelib.platform.models import MODELS as PLATFORM
from chalicelib.workflows.models import MODELS as WORKFLOWS
from chalicelib.workflows.refund_models import MODELS as REFUNDS

ALL_MODELS: list[type[Model]] = [
    *PLATFORM,
    *PARKING,
    *SHIFTS,
    *PAYMENTS,
    *MERCHANTS,
    *PAYMENT_REQUESTS,
    *RECONCILIATION,
    *PRESTORE,
    *CHARGING,
    *LEDGER,
    *WORKFLOWS,
    *REFUNDS,
    *COUPONS,
]


def create_all_tables() -> None:
    """Create every table that does not exist yet, and every index a kept table lacks (the local
    stack's state outlives code that adds an index; tests). In AWS the CDK stack owns tables."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        else:
            add_missing_indexes(model)


def add_missing_indexes(model: type[Model]) -> list[str]:
    """Create the model's global secondary indexes its table does not have yet."""
    connection = model._get_connection()
    have = {index["IndexName"] for index in connection.describe_table().get("GlobalSecondaryIndexes", [])}
    schema = model._get_schema()
    added = []
    for index in schema["global_secondary_indexes"]:
        if index["index_name"] in have:
            continue
        connection.connection.client.update_table(
            TableName=model.Meta.table_name,
            AttributeDefinitions=index["attribute_definitions"],
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": index["index_name"],
                        "KeySchema": index["key_schema"],
                        "Projection": index["projection"],
                    }
                }
            ],
        )
        added.append(index["index_name"])
    return added
