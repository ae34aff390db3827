"""Every table of every context, in one list: the CDK stack and the local stack (and the tests)
build their tables from it, so both runtimes have the same keys, indexes and TTLs."""

from __future__ import annotations

from pynamodb.models import Model

from chalicelib.charging.models import MODELS as CHARGING
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
]


def create_all_tables() -> None:
    """Create every table that does not exist yet (local stack and tests)."""
    for model in ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
