"""DynamoDB through PynamoDB: the base of every model's Meta, table names with the stage prefix,
one connection per container for transactions, and reading why a transaction was cancelled."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

from pynamodb.connection import Connection
from pynamodb.exceptions import PynamoDBException, TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.shared.errors import DomainError
from chalicelib.shared.settings import get_settings, table_name
from chalicelib.shared.tenancy import require_same_owner

M = TypeVar("M", bound=Model)

CONDITION_FAILED = "ConditionalCheckFailed"
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TransactionConflict",
        "TransactionConflictException",
    }
)


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


def transaction() -> TransactWrite:
    """A TransactWrite on the container's connection: `with transaction() as tx: ...`."""
    return TransactWrite(connection=connection())


def cancellation_codes(error: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in the order the items were added
    (None where an item was fine)."""
    return [reason.code if reason is not None else None for reason in error.cancellation_reasons or []]


def failed_condition(error: TransactWriteError, index: int | None = None) -> bool:
    """The transaction was cancelled by a condition (of item `index`, or of any item)."""
    codes = cancellation_codes(error)
    if index is not None:
        return len(codes) > index and codes[index] == CONDITION_FAILED
    return CONDITION_FAILED in codes


def is_throttled(error: BaseException) -> bool:
    """DynamoDB asked us to slow down (the HTTP edge answers 503 with Retry-After)."""
    if isinstance(error, TransactWriteError) and any(
        code in THROTTLING_CODES for code in cancellation_codes(error)
    ):
        return True
    if isinstance(error, PynamoDBException):
        return (error.cause_response_code or "") in THROTTLING_CODES
    return False


def get_or_none(model: type[M], hash_key: Any, range_key: Any = None, consistent: bool = False) -> M | None:
    try:
        return model.get(hash_key, range_key, consistent_read=consistent)
    except model.DoesNotExist:
        return None


def get_owned(
    model: type[M],
    hash_key: Any,
    range_key: Any = None,
    *,
    owner: tuple[str, str | None],
    missing: DomainError,
    consistent: bool = False,
) -> M:
    """The item, only when its `owner[0]` attribute is `owner[1]` (the caller's user or operator);
    anything else raises `missing`: another's item looks exactly like one that does not exist."""
    item = get_or_none(model, hash_key, range_key, consistent=consistent)
    attribute, value = owner
    require_same_owner(getattr(item, attribute, None) if item is not None else None, value, missing)
    assert item is not None
    return item
