"""What the local stack changes in moto (applied in the moto server process only, never in tests
that use `mock_aws` directly):

1. **One lock around every DynamoDB request.** moto's server is threaded; its DynamoDB backend is
   not safe under concurrent requests (a query iterating a table while a put inserts raises
   `dictionary changed size during iteration`; a transaction's conditions race with other writes).
   Every DynamoDB request (parse, apply, serialise) runs under one lock, as DynamoDB's own
   per-item serialisation would make them appear to clients. Python's GIL serialises moto's work
   anyway, so the lock costs next to nothing in throughput.
2. **TransactWriteItems snapshots only the items it touches.** moto 5.2.5 deep-copies every table a
   transaction names before applying it, and restores whole tables on failure: the cost grows with
   the tables (the gate path's inbox, visits and commands tables only grow) and a restore would
   overwrite concurrent writes. The replacement below is moto's own loop with a per-item
   snapshot and restore.
3. **Queries read one partition.** moto's `Table.query` sorts every item of the table and then
   keeps those of the queried partition. A base-table query reads its partition only; an index
   query reads the items with the index's partition key value (see 5) before sorting them.
4. **Less work per request.** moto re-parses every condition expression on every request (and a
   transaction's twice), lists its ~150 service modules to route each request (under a global
   lock) and inspects the response class's methods per request. Parsed conditions are cached by
   their text, names and values; the routing answer is cached per host; the method names per
   class. The transaction evaluates each condition once, as DynamoDB does.
5. **Answers and items built once.** The data-plane operations' answers are written with
   `json.dumps` (moto's result is already the wire JSON) instead of moto's shape-walking
   serialiser; an update expression is parsed once per text (moto parses it twice per call), and
   one made only of `SET #n = :v`, `REMOVE #n` and `ADD #n :number` on attributes that are not
   keys is applied directly (moto deep-copies and walks its tree a dozen times per call;
   `PARKCHARGE_MOTO_FAST_UPDATE=0` turns it off);
   an item's 400 KB check sums the item once (moto re-sums it for each attribute it adds); and an
   index query reads a map of the index's partition values kept up to date by every write,
   instead of walking the table.
6. **Lambda invocations go to the app's handlers.** With `lambda.use_docker=False` moto's simple
   Lambda backend echoes the payload; here it forwards the invocation to the local stack's Lambda
   endpoint (`PARKCHARGE_LOCAL_LAMBDA_URL`), which runs the app's handler in-process. That is how
   Step Functions' Lambda tasks reach the app.
7. **StopExecution ends a waiting execution at once.** moto's parser stops an execution by
   flagging its program, which notices only when the state it is in returns: an execution waiting
   on a task token stays RUNNING (and its token keeps answering SendTaskSuccess) until the wait's
   timeout, days later. In AWS StopExecution is immediate: the execution is ABORTED and its tokens
   are dead (TaskDoesNotExist). The patch marks the execution ABORTED when it is stopped; its
   waiting thread ends with the wait's timeout.

`tests/integration/test_local_moto.py` pins the moto internals this relies on (an upgrade that
changes them fails that test instead of silently measuring moto again), and checks each patch
against moto's own behaviour: atomicity, what a query or a transaction costs in items (counted
on the stats page, never timed), index answers under writes, the fast answers and updates equal
to moto's own (`PARKCHARGE_MOTO_FAST_JSON=0` and `PARKCHARGE_MOTO_FAST_UPDATE=0` turn them off).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import inspect
import json
import os
import re
import threading
import urllib.error
import urllib.request
from typing import Any

# The source of every moto function the patch replaces or relies on, as read in moto 5.2.5. A
# change means: re-read the new moto, adapt this module, update the fingerprints.
FINGERPRINTS = {
    "DynamoDBBackend.transact_write_items": "81db2cb7d94e39c9",
    "DynamoDBBackend.get_keys_value": "1f948797496ddc2c",
    "DynamoDBBackend.update_item": "218984588dd689a5",
    "Table.all_items": "c80d2ee3c896acd0",
    "Table.query": "002b4d00be6df07c",
    "Table.delete_item": "1594f7b07616c8cb",
    "BaseResponse.call_action": "26076963fd17fd1a",
    "LambdaSimpleBackend.invoke": "1b029265c71d5ae0",
    "comparisons.get_filter_expression": "0bb9e2d345c7f17f",
    "comparisons.create_condition_expression_parser": "a667986752c086a5",
    "utils.method_names_from_class": "9dbac89d082b655f",
    "DomainDispatcherApplication.get_backend_for_host": "1f41972c1e4e660f",
    "BaseResponse.serialized": "af486a0ef1327162",
    "DynamoResult.__init__": "e2394775cd5ef6ad",
    "UpdateExpressionParser.make": "2c00ed96d6e191f2",
    "Item.__init__": "d9c12b62cb921831",
    "LimitedSizeDict.__setitem__": "d979580fdbe14f79",
    "Table.put_item": "de23933013ef8426",
    "parser.Execution.stop": "16663c65db9a2f96",
    "DynamoType.__add__": "c2852d8ddde02bb3",
    "Table.attribute_keys": "18979b69d53918a5",
}

DYNAMODB_LOCK = threading.RLock()
_applied = False
# What requests cost in items (the stats page shows them; tests compare them instead of timing
# moto): items a query or scan walked, items a transaction copied to be able to restore them.
WORK = {"items_walked": 0, "transaction_copies": 0}


def _targets() -> dict[str, Any]:
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core import utils as core_utils
    from moto.core.responses import BaseResponse
    from moto.dynamodb import comparisons
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType, Item, LimitedSizeDict
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.responses import DynamoResult
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution

    return {
        "DynamoDBBackend.transact_write_items": _ORIGINALS.get(
            "transact_write_items", DynamoDBBackend.transact_write_items
        ),
        "DynamoDBBackend.get_keys_value": DynamoDBBackend.get_keys_value,
        # updates an item in place: why the snapshot is a deep copy of the item
        "DynamoDBBackend.update_item": DynamoDBBackend.update_item,
        "Table.all_items": _ORIGINALS.get("all_items", Table.all_items),
        "Table.query": _ORIGINALS.get("query", Table.query),
        "Table.delete_item": Table.delete_item,
        "BaseResponse.call_action": BaseResponse.call_action,
        "LambdaSimpleBackend.invoke": _ORIGINALS.get("invoke", LambdaSimpleBackend.invoke),
        "comparisons.get_filter_expression": comparisons.get_filter_expression.__wrapped__
        if hasattr(comparisons.get_filter_expression, "__wrapped__")
        else comparisons.get_filter_expression,
        "comparisons.create_condition_expression_parser": comparisons.create_condition_expression_parser,
        "utils.method_names_from_class": core_utils.method_names_from_class,
        "DomainDispatcherApplication.get_backend_for_host": getattr(
            DomainDispatcherApplication.get_backend_for_host,
            "__wrapped__",
            DomainDispatcherApplication.get_backend_for_host,
        ),
        "BaseResponse.serialized": _unwrapped(BaseResponse.serialized),
        "DynamoResult.__init__": DynamoResult.__init__,
        "UpdateExpressionParser.make": _unwrapped(UpdateExpressionParser.make),
        "Item.__init__": _ORIGINALS.get("item_init", Item.__init__),
        "LimitedSizeDict.__setitem__": LimitedSizeDict.__setitem__,
        "Table.put_item": _unwrapped(Table.put_item),
        "parser.Execution.stop": _ORIGINALS.get("execution_stop", ParserExecution.stop),
        # the direct update path adds numbers as moto does and keeps key attributes to moto
        "DynamoType.__add__": DynamoType.__add__,
        "Table.attribute_keys": Table.attribute_keys.fget,  # type: ignore[attr-defined]
    }


def _unwrapped(fn: Any) -> Any:
    while hasattr(fn, "__wrapped__"):
        fn = fn.__wrapped__
    return fn


_ORIGINALS: dict[str, Any] = {}


def fingerprint(fn: Any) -> str:
    return hashlib.sha256(inspect.getsource(fn).encode()).hexdigest()[:16]


def current_fingerprints() -> dict[str, str]:
    return {name: fingerprint(fn) for name, fn in _targets().items()}


# -- 2. item-level transactions -------------------------------------------------------------------
def _item_key(table: Any, op_type: str, op: dict[str, Any]) -> dict[str, Any] | None:
    if op_type == "Put":
        attrs = op.get("Item") or {}
        key = {name: attrs[name] for name in (table.hash_key_attr, table.range_key_attr) if name in attrs}
        return key or None
    return op.get("Key")


def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's `transact_write_items` with a snapshot of the touched items instead of a deep
    copy of every touched table (and the same validation, conditions and error shapes)."""
    from moto.dynamodb.comparisons import get_filter_expression as backend_filter_expression
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    with DYNAMODB_LOCK:
        # Snapshot: (table, hash, range) -> deep copy of the item before the transaction, or None.
        snapshots: dict[tuple[str, Any, Any], tuple[Any, Any, Any, Any]] = {}
        for entry in transact_items:
            op_type, op = next(iter(entry.items()))
            table_name = op.get("TableName")
            table = self.tables.get(table_name) if table_name else None
            if table is None or not isinstance(op, dict):
                continue
            key = _item_key(table, op_type, op)
            if not key:
                continue
            try:
                hash_value, range_value = self.get_keys_value(table, key)
            except Exception:  # noqa: S112 - invalid keys are reported by the loop below
                continue
            marker = (table_name, hash_value, range_value)
            if marker not in snapshots:
                before = table.get_item(hash_value, range_value)
                snapshots[marker] = (table, hash_value, range_value, copy.deepcopy(before))
                WORK["transaction_copies"] += before is not None

        def rollback() -> None:
            for table, hash_value, range_value, before in snapshots.values():
                table.delete_item(hash_value, range_value)
                if before is not None:
                    if range_value is not None:
                        table.items[hash_value][range_value] = before
                    else:
                        table.items[hash_value] = before
                elif range_value is not None and not table.items.get(hash_value):
                    table.items.pop(hash_value, None)
                _reindex(table, hash_value, range_value)

        target_items: set[tuple[str, str]] = set()

        def check_unicity(table_name: str, key: dict[str, Any]) -> None:
            item = (str(table_name), str(dict(sorted(key.items()))))
            if item in target_items:
                raise MultipleTransactionsException()
            target_items.add(item)

        errors: list[tuple[str | None, str | None, dict[str, Any] | None]] = []
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                rollback()
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                names = op.get("ExpressionAttributeNames")
                values = op.get("ExpressionAttributeValues")
                return_on_failure = op.get("ReturnValuesOnConditionCheckFailure")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = backend_filter_expression(condition_expression, names, values)
                    if not condition_op.expr(current):
                        if return_on_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                # The condition held (checked above, under the lock): apply without re-checking.
                if op_type == "Put":
                    self.put_item(table_name, op["Item"])
                elif op_type == "Delete":
                    self.delete_item(table_name, key)
                elif op_type == "Update":
                    self.update_item(
                        table_name,
                        key,
                        update_expression=op["UpdateExpression"],
                        expression_attribute_names=names,
                        expression_attribute_values=values,
                    )
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                rollback()
                raise
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))
            except Exception as e:
                errors.append((type(e).__name__, str(e), original_item))
        if any(code is not None for code, _, _ in errors):
            rollback()
            raise TransactionCanceledException(errors)


# -- 3. base-table queries read one partition ----------------------------------------------------
_partition = threading.local()


def _all_items(self: Any) -> list[Any]:
    items = _partition_items(self)
    WORK["items_walked"] += len(items)
    return items


def _partition_items(self: Any) -> list[Any]:
    if id(getattr(_partition, "table", None)) == id(self):
        bucket = self.items.get(_partition.hash_key)
        if bucket is None:
            return []
        if self.range_key_attr:
            return sorted(bucket.values(), key=lambda x: (x.hash_key, x.range_key))
        return [bucket]
    wanted = getattr(_partition, "index", None)
    if wanted is not None and id(wanted[0]) == id(self):
        # An index query: only the items with the index's partition key value, unsorted (the
        # index branch of `query` sorts what it keeps by the index's keys anyway).
        _table, attribute, value = wanted
        return _index_items(self, attribute, value)
    return list(_ORIGINALS["all_items"](self))


# -- 3b. index queries read one bucket -----------------------------------------------------------
# Each table keeps, once an index of it is queried, a map from each index partition key value to
# the keys of the items that carry it, updated by every write (put, delete, update, a rolled back
# transaction): an index query costs its partition, not the table (the commands table's pending
# index is queried on every capture and grows with every command).
_BUCKETS = "_parkcharge_index_buckets"


def _raw(value: Any) -> tuple[str, Any]:
    return (value.type, value.value) if value is not None else ("", None)


def _index_attributes(table: Any) -> set[str]:
    found: set[str] = set()
    for index in table.all_indexes():
        found.update(k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH")
    return found


def _stored(table: Any, hash_value: Any, range_value: Any) -> Any:
    if table.range_key_attr:
        return table.items.get(hash_value, {}).get(range_value)
    return table.items.get(hash_value)


def _reindex(table: Any, hash_value: Any, range_value: Any) -> None:
    """Move one item's key to the buckets its current attributes name (or out of them)."""
    buckets = table.__dict__.get(_BUCKETS)
    if buckets is None:
        return
    key = (_raw(hash_value), _raw(range_value))
    item = _stored(table, hash_value, range_value)
    for attribute, (by_value, where) in buckets.items():
        old = where.pop(key, None)
        if old is not None:
            bucket = by_value.get(old)
            if bucket is not None:
                bucket.pop(key, None)
                if not bucket:
                    del by_value[old]
        found = item.attrs.get(attribute) if item is not None else None
        if found is not None and found.type in ("S", "N", "B"):
            new = (found.type, found.value)
            by_value.setdefault(new, {})[key] = (hash_value, range_value)
            where[key] = new


def _index_items(table: Any, attribute: str, value: Any) -> list[Any]:
    buckets = table.__dict__.get(_BUCKETS)
    if buckets is None:  # the first index query of this table: one walk builds the map
        buckets = {name: ({}, {}) for name in _index_attributes(table)}
        table.__dict__[_BUCKETS] = buckets
        for hash_set in list(table.items.values()):
            for item in list(hash_set.values()) if table.range_key_attr else (hash_set,):
                _reindex(table, item.hash_key, item.range_key)
    by_value, _where = buckets.get(attribute, ({}, {}))
    items = []
    for hash_value, range_value in by_value.get((value.type, value.value), {}).values():
        item = _stored(table, hash_value, range_value)
        if item is not None:
            items.append(item)
    return items


def _reindexing_put(original: Any) -> Any:
    @functools.wraps(original)
    def put_item(self: Any, *args: Any, **kwargs: Any) -> Any:
        item = original(self, *args, **kwargs)
        _reindex(self, item.hash_key, item.range_key)
        return item

    return put_item


def _reindexing_delete(original: Any) -> Any:
    @functools.wraps(original)
    def delete_item(self: Any, hash_value: Any, range_value: Any) -> Any:
        try:
            return original(self, hash_value, range_value)
        finally:
            _reindex(self, hash_value, range_value)

    return delete_item


def _reindexing_update(original: Any) -> Any:
    @functools.wraps(original)
    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        item = original(self, table_name, *args, **kwargs)
        _reindex(self.get_table(table_name), item.hash_key, item.range_key)
        return item

    return update_item


def _item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
    """moto's `Item.__init__` with its 400 KB check once per item: moto re-sums the whole item
    on each attribute it adds (quadratic in the attributes, a millisecond per visit item)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
    from moto.dynamodb.models.utilities import bytesize

    self.hash_key = hash_key
    self.range_key = range_key
    converted = {key: DynamoType(value) for key, value in attrs.items()}
    if sum(bytesize(key) + value.size() for key, value in converted.items()) > 405000:
        raise ItemSizeTooLarge
    checked = LimitedSizeDict.__new__(LimitedSizeDict)
    dict.update(checked, converted)
    self.attrs = checked


def _index_hash_attribute(table: Any, index_name: str) -> str | None:
    for index in table.all_indexes():
        if index.name == index_name:
            hashes = [k["AttributeName"] for k in index.schema if k["KeyType"] == "HASH"]
            return hashes[0] if len(hashes) == 1 else None
    return None


def _query(original: Any) -> Any:
    signature = inspect.signature(original)

    @functools.wraps(original)
    def query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs).arguments
        hash_key, index_name = bound.get("hash_key"), bound.get("index_name")
        if hash_key is None:
            return original(self, *args, **kwargs)
        if index_name:
            attribute = _index_hash_attribute(self, index_name)
            if attribute is None:
                return original(self, *args, **kwargs)
            _partition.index = (self, attribute, hash_key)
        else:
            _partition.table, _partition.hash_key = self, hash_key
        try:
            return original(self, *args, **kwargs)
        finally:
            _partition.table = None
            _partition.index = None

    return query


# -- 4. less work per request -----------------------------------------------------------------
_CONDITIONS: dict[tuple[str, str, str], Any] = {}
_CONDITIONS_MAX = 4096


def _condition_key(expr: str, names: Any, values: Any) -> tuple[str, str, str]:
    return (expr, json.dumps(names, sort_keys=True), json.dumps(values, sort_keys=True, default=str))


def _cached_filter_expression(original: Any) -> Any:
    @functools.wraps(original)
    def get_filter_expression(expr: str | None, names: Any, values: Any) -> Any:
        if not expr:
            return original(expr, names, values)
        key = _condition_key(expr, names, values)
        op = _CONDITIONS.get(key)
        if op is None:
            op = original(expr, names, values)
            if len(_CONDITIONS) >= _CONDITIONS_MAX:
                _CONDITIONS.clear()
            _CONDITIONS[key] = op
        return op

    return get_filter_expression


class _CachedParser:
    def __init__(self, original: Any, expr: str | None, names: Any, values: Any) -> None:
        self._original, self._args = original, (expr, names, values)

    def parse(self) -> Any:
        expr, names, values = self._args
        if not expr:
            return self._original(expr, names, values).parse()
        key = ("parser:" + expr, *_condition_key(expr, names, values)[1:])
        op = _CONDITIONS.get(key)
        if op is None:
            op = self._original(expr, names, values).parse()
            if len(_CONDITIONS) >= _CONDITIONS_MAX:
                _CONDITIONS.clear()
            _CONDITIONS[key] = op
        return op


def _cached_parser(original: Any) -> Any:
    @functools.wraps(original)
    def create_condition_expression_parser(expr: str | None, names: Any, values: Any) -> Any:
        return _CachedParser(original, expr, names, values)

    return create_condition_expression_parser


def _cached_backend_for_host(original: Any) -> Any:
    cache: dict[str | None, Any] = {}

    @functools.wraps(original)
    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if host not in cache:
            cache[host] = original(self, host)
        return cache[host]

    return get_backend_for_host


# -- 4b. data-plane answers serialised as the JSON they already are -------------------------------
# moto answers each DynamoDB call through its generic, model-driven serialiser, which walks the
# botocore output shape member by member (a third of moto's time on the gate path). For these
# operations moto's result is already the wire JSON (`Item.to_json()` attribute values, counts,
# keys): it is written with `json.dumps`. Errors and every other operation keep moto's serialiser;
# `tests/integration/test_local_moto.py` compares both answers for each operation listed here.
FAST_JSON_ACTIONS = frozenset(
    {
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactGetItems",
        "TransactWriteItems",
    }
)
JSON_CONTENT_TYPE = "application/x-amz-json-1.0"
FAST_JSON_HEADER = "x-parkcharge-local-answer"  # which path answered (tests check both)


def _without_none(value: Any) -> Any:
    """moto's serialiser leaves out members whose value is None; so does this."""
    if isinstance(value, dict):
        return {k: _without_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_none(v) for v in value]
    return value


def _fast_serialized(original: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    plain = (ActionResult, DynamoResult)  # not the paginated or streaming kinds

    @functools.wraps(original)
    def serialized(self: Any, action_result: Any) -> Any:
        result = getattr(action_result, "result", None)
        if (
            type(action_result) in plain
            and isinstance(result, dict)
            and getattr(self, "boto3_service_name", None) == "dynamodb"
            and self._get_action() in FAST_JSON_ACTIONS
        ):
            try:
                body = json.dumps(_without_none(result), separators=(",", ":"))
            except (TypeError, ValueError):
                return original(self, action_result)
            headers = {"Content-Type": JSON_CONTENT_TYPE, FAST_JSON_HEADER: "1"}
            headers.update(self.response_headers)
            return 200, headers, body
        return original(self, action_result)

    return serialized


_UPDATE_ASTS: dict[str, Any] = {}


def _cached_update_parser(original: Any) -> Any:
    """moto parses an update expression twice per UpdateItem (the handler, then the backend);
    the tree is only read (the validator works on its own deep copy), so one parse per text."""

    @functools.wraps(original)
    def make(expression: str) -> Any:
        tree = _UPDATE_ASTS.get(expression)
        if tree is None:
            tree = original(expression)
            if len(_UPDATE_ASTS) >= _CONDITIONS_MAX:
                _UPDATE_ASTS.clear()
            _UPDATE_ASTS[expression] = tree
        return tree

    return staticmethod(make)


# -- 5b. simple update expressions applied directly --------------------------------------------
# moto validates every update expression by deep-copying its tree and walking it a dozen times
# with the item (most of an UpdateItem's cost, and an ack is one), and deep-copies the item for a
# stream the tables do not have. The expressions PynamoDB writes are mostly made of
# `SET #n = :v`, `REMOVE #n` and `ADD #n :number` on top-level attributes that are not keys: those
# are applied directly, with moto's condition check, item creation, number addition and size
# limit. Anything else (paths, functions, arithmetic, sets, key attributes, an unknown placeholder,
# a stream, legacy parameters) goes to moto's own `update_item` unchanged.
_PLANS: dict[str, tuple[tuple[str, str, str | None], ...] | None] = {}
FAST_UPDATES = [0]  # how many updates were decided on the direct path (shown on the stats page)
_PLAN_TOKEN = re.compile(r"\s*(#[A-Za-z0-9_]+|:[A-Za-z0-9_]+|[A-Za-z_][A-Za-z0-9_]*|\S)")
_SET_TYPES = frozenset({"SS", "NS", "BS"})


def update_plan(expression: str) -> tuple[tuple[str, str, str | None], ...] | None:
    """`((action, name placeholder, value placeholder or None), ...)` for an expression of only
    `SET #n = :v`, `REMOVE #n` and `ADD #n :v` items (each clause once), else None."""
    if expression in _PLANS:
        return _PLANS[expression]
    tokens = _PLAN_TOKEN.findall(expression)
    plan: list[tuple[str, str, str | None]] = []
    clauses: set[str] = set()
    i = 0
    while i < len(tokens):
        clause = tokens[i].upper()
        if clause not in ("SET", "REMOVE", "ADD") or clause in clauses:
            plan = []
            break
        clauses.add(clause)
        i += 1
        while True:
            name = tokens[i] if i < len(tokens) else ""
            if not name.startswith("#"):
                return _remember(expression, None)
            if clause == "SET":
                if tokens[i + 1 : i + 2] != ["="] or not "".join(tokens[i + 2 : i + 3]).startswith(":"):
                    return _remember(expression, None)
                plan.append(("SET", name, tokens[i + 2]))
                i += 3
            elif clause == "ADD":
                if not "".join(tokens[i + 1 : i + 2]).startswith(":"):
                    return _remember(expression, None)
                plan.append(("ADD", name, tokens[i + 1]))
                i += 2
            else:
                plan.append(("REMOVE", name, None))
                i += 1
            if i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            break
    return _remember(expression, tuple(plan) or None)


def _remember(
    expression: str, plan: tuple[tuple[str, str, str | None], ...] | None
) -> tuple[tuple[str, str, str | None], ...] | None:
    if len(_PLANS) >= _CONDITIONS_MAX:
        _PLANS.clear()
    _PLANS[expression] = plan
    return plan


def _steps(
    plan: tuple[tuple[str, str, str | None], ...], table: Any, names: Any, values: Any
) -> list[tuple[str, str, dict[str, Any] | None]] | None:
    """The plan with attribute names and raw values, or None when moto must decide."""
    steps: list[tuple[str, str, dict[str, Any] | None]] = []
    keys = set(table.attribute_keys)  # the table's and its indexes' (an index key may be removed)
    for action, name_placeholder, value_placeholder in plan:
        name = (names or {}).get(name_placeholder)
        raw = (values or {}).get(value_placeholder) if value_placeholder else None
        if not isinstance(name, str) or any(name == s[1] for s in steps):
            return None
        if name in (table.table_key_attrs if action == "REMOVE" else keys):
            return None
        if value_placeholder is not None:
            if not isinstance(raw, dict) or len(raw) != 1:
                return None
            kind = next(iter(raw))
            if kind in _SET_TYPES or (action == "ADD" and kind != "N"):
                return None
        steps.append((action, name, raw))
    return steps


def _fast_update(original: Any) -> Any:
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeToUpdateTooLarge
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import bytesize

    @functools.wraps(original)
    def update_item(
        self: Any,
        table_name: str,
        key: dict[str, Any],
        update_expression: str,
        expression_attribute_names: Any,
        expression_attribute_values: Any,
        attribute_updates: Any = None,
        expected: Any = None,
        condition_expression: str | None = None,
        return_values_on_condition_check_failure: str | None = None,
    ) -> Any:
        def moto() -> Any:
            return original(
                self,
                table_name,
                key,
                update_expression=update_expression,
                expression_attribute_names=expression_attribute_names,
                expression_attribute_values=expression_attribute_values,
                attribute_updates=attribute_updates,
                expected=expected,
                condition_expression=condition_expression,
                return_values_on_condition_check_failure=return_values_on_condition_check_failure,
            )

        plan = (
            update_plan(update_expression)
            if update_expression and not (attribute_updates or expected)
            else None
        )
        table = self.get_table(table_name)
        steps = _steps(plan, table, expression_attribute_names, expression_attribute_values) if plan else None
        if steps is None or table.stream_shard is not None or table.hash_key_attr not in key:
            return moto()
        hash_value = DynamoType(key[table.hash_key_attr])
        range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
        item = table.get_item(hash_value, range_value)
        for action, name, _raw in steps:  # ADD to a non-number: moto raises its own error
            current = item.attrs.get(name) if item is not None else None
            if action == "ADD" and current is not None and current.type != "N":
                return moto()
        FAST_UPDATES[0] += 1
        condition = dynamodb_models.create_condition_expression_parser(
            condition_expression, expression_attribute_names, expression_attribute_values
        ).parse()
        if not condition.expr(item):
            if return_values_on_condition_check_failure == "ALL_OLD" and item is not None:
                raise ConditionalCheckFailed(item=item.to_json()["Attributes"])
            raise ConditionalCheckFailed
        if item is None:  # an update creates the item it does not find
            data = {table.hash_key_attr: {hash_value.type: hash_value.value}}
            if range_value:
                data[table.range_key_attr] = {range_value.type: range_value.value}
            table.put_item(data)
            item = table.get_item(hash_value, range_value)
        attrs = item.attrs
        before = {name: attrs.get(name) for _action, name, _raw in steps}
        for action, name, raw in steps:
            if action == "SET":
                dict.__setitem__(attrs, name, DynamoType(raw or {}))
            elif action == "REMOVE":
                dict.pop(attrs, name, None)
            else:
                current = attrs.get(name)
                start = DynamoType({"N": "0"}) if current is None else current
                dict.__setitem__(attrs, name, start + DynamoType(raw or {}))
        if sum(bytesize(name) + value.size() for name, value in attrs.items()) > 405000:
            for name, value in before.items():
                if value is None:
                    dict.pop(attrs, name, None)
                else:
                    dict.__setitem__(attrs, name, value)
            raise ItemSizeToUpdateTooLarge()
        return item

    return update_item


# -- 1. one lock per DynamoDB request ------------------------------------------------------------
def _locked(original: Any) -> Any:
    @functools.wraps(original)
    def call_action(self: Any) -> Any:
        with DYNAMODB_LOCK:
            return original(self)

    return call_action


# -- 4. Lambda invocations to the app ------------------------------------------------------------
def _invoke(
    self: Any, function_name: str, qualifier: str | None, body: Any, headers: Any, response_headers: Any
) -> bytes:
    url = os.environ.get("PARKCHARGE_LOCAL_LAMBDA_URL")
    if not url:
        return bytes(_ORIGINALS["invoke"](self, function_name, qualifier, body, headers, response_headers))
    name = function_name.rsplit(":", 1)[-1] if function_name.startswith("arn:") else function_name
    data = body if isinstance(body, bytes) else str(body or "{}").encode()
    request = urllib.request.Request(  # noqa: S310 - the stack's loopback URL
        f"{url}/2015-03-31/functions/{name}/invocations",
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback URL
            error = response.headers.get("X-Amz-Function-Error")
            payload = response.read()
    except urllib.error.HTTPError as exc:
        error, payload = "Unhandled", exc.read() or json.dumps({"errorMessage": str(exc)}).encode()
    if error:
        response_headers["x-amz-function-error"] = error
    return payload


# -- 7. StopExecution is immediate ---------------------------------------------------------------
def _stop_execution(self: Any, stop_date: Any, error: str | None, cause: str | None) -> None:
    from moto.stepfunctions.parser.api import ExecutionStatus

    _ORIGINALS["execution_stop"](self, stop_date, error, cause)
    if self.exec_status == ExecutionStatus.RUNNING:
        self.exec_status = ExecutionStatus.ABORTED
        self.stop_date = stop_date


def apply() -> None:
    """Install the patches (idempotent). Call in the moto server process before it serves."""
    global _applied
    if _applied:
        return
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core import responses as core_responses
    from moto.dynamodb import comparisons
    from moto.dynamodb import models as dynamodb_models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models import table as dynamodb_table
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]
    from moto.dynamodb.responses import DynamoHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.stepfunctions.parser.backend.execution import Execution as ParserExecution

    _ORIGINALS["transact_write_items"] = DynamoDBBackend.transact_write_items
    _ORIGINALS["all_items"] = Table.all_items
    _ORIGINALS["query"] = Table.query
    _ORIGINALS["invoke"] = LambdaSimpleBackend.invoke
    _ORIGINALS["execution_stop"] = ParserExecution.stop
    ParserExecution.stop = _stop_execution  # type: ignore[method-assign]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    Table.all_items = _all_items  # type: ignore[method-assign]
    Table.put_item = _reindexing_put(Table.put_item)  # type: ignore[method-assign]
    Table.delete_item = _reindexing_delete(Table.delete_item)  # type: ignore[method-assign]
    update = DynamoDBBackend.update_item
    if os.environ.get("PARKCHARGE_MOTO_FAST_UPDATE", "1") != "0":
        update = _fast_update(update)
    DynamoDBBackend.update_item = _reindexing_update(update)  # type: ignore[method-assign]
    _ORIGINALS["item_init"] = Item.__init__
    Item.__init__ = _item_init  # type: ignore[method-assign]
    Table.query = _query(Table.query)  # type: ignore[method-assign]
    DynamoHandler.call_action = _locked(DynamoHandler.call_action)  # type: ignore[method-assign]
    LambdaSimpleBackend.invoke = _invoke  # type: ignore[method-assign]
    cached = _cached_filter_expression(comparisons.get_filter_expression)
    comparisons.get_filter_expression = cached
    dynamodb_models.get_filter_expression = cached
    dynamodb_table.get_filter_expression = cached
    dynamodb_models.create_condition_expression_parser = _cached_parser(
        comparisons.create_condition_expression_parser
    )
    core_responses.method_names_from_class = functools.lru_cache(maxsize=None)(
        core_responses.method_names_from_class
    )
    DomainDispatcherApplication.get_backend_for_host = _cached_backend_for_host(  # type: ignore[method-assign]
        DomainDispatcherApplication.get_backend_for_host
    )
    if os.environ.get("PARKCHARGE_MOTO_FAST_JSON", "1") != "0":
        core_responses.BaseResponse.serialized = _fast_serialized(  # type: ignore[method-assign]
            core_responses.BaseResponse.serialized
        )
    UpdateExpressionParser.make = _cached_update_parser(UpdateExpressionParser.make)
    _applied = True
