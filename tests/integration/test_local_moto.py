"""The local stack's moto (`infra.local.moto_server` with `infra.local.motopatch`), in its own
process as the stack runs it: DynamoDB transactions and conditional writes atomic under
concurrent requests, a transaction's cost independent of the tables' size, base-table queries
reading one partition, and the moto internals the patch relies on pinned."""

from __future__ import annotations

import json
import threading
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from infra.local import motopatch
from infra.local.moto_server import STATS_PATH, MotoProcess
from infra.local.stack import HOST, _free_port


def test_moto_internals_the_patch_relies_on_are_unchanged() -> None:
    """A moto upgrade that changes any of these fails here: re-read moto, adapt `motopatch`,
    then update `motopatch.FINGERPRINTS`."""
    assert motopatch.current_fingerprints() == motopatch.FINGERPRINTS


@pytest.fixture(scope="module")
def dynamodb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    port = _free_port()
    server = MotoProcess(HOST, port, Path(tmp_path_factory.mktemp("moto")), lambda_url=None)
    server.start()
    try:
        yield boto3.client(
            "dynamodb",
            endpoint_url=f"http://{HOST}:{port}",
            region_name="us-east-1",
            config=Config(max_pool_connections=32, retries={"max_attempts": 0}),
        )
    finally:
        server.stop()


def _table(client: Any, range_key: bool = False) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    schema = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    if range_key:
        schema.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attrs.append({"AttributeName": "sk", "AttributeType": "S"})
    client.create_table(
        TableName=name, KeySchema=schema, AttributeDefinitions=attrs, BillingMode="PAY_PER_REQUEST"
    )
    return name


def _claim(client: Any, table: str, log_table: str, who: str) -> bool:
    """One transaction: claim the shared item once, and write this writer's own log item."""
    try:
        client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": log_table,
                        "Item": {"pk": {"S": who}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Update": {
                        "TableName": table,
                        "Key": {"pk": {"S": "shared"}},
                        "UpdateExpression": "SET claimed_by = :who",
                        "ConditionExpression": "attribute_not_exists(claimed_by)",
                        "ExpressionAttributeValues": {":who": {"S": who}},
                    }
                },
            ]
        )
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "TransactionCanceledException", exc
        return False
    return True


def test_racing_transactions_apply_exactly_once_and_failures_restore_only_their_items(dynamodb: Any) -> None:
    for trial in range(20):
        table, log_table = _table(dynamodb), _table(dynamodb)
        # A writer outside the transactions, racing them on the log table.
        writers = [f"w{trial}-{i}" for i in range(12)]
        with ThreadPoolExecutor(max_workers=16) as pool:
            outsiders = [
                pool.submit(dynamodb.put_item, TableName=log_table, Item={"pk": {"S": f"outside-{i}"}})
                for i in range(6)
            ]
            claims = [pool.submit(_claim, dynamodb, table, log_table, w) for w in writers]
            results = [c.result() for c in claims]
            for f in outsiders:
                f.result()
        assert results.count(True) == 1, results
        winner = writers[results.index(True)]
        shared = dynamodb.get_item(TableName=table, Key={"pk": {"S": "shared"}}, ConsistentRead=True)
        assert shared["Item"]["claimed_by"]["S"] == winner
        logged = {i["pk"]["S"] for i in dynamodb.scan(TableName=log_table)["Items"]}
        # The winner's log item and every outside write survive the losers' rollbacks.
        assert logged == {winner} | {f"outside-{i}" for i in range(6)}


def test_concurrent_conditional_increments_lose_nothing(dynamodb: Any) -> None:
    table = _table(dynamodb)
    dynamodb.put_item(TableName=table, Item={"pk": {"S": "n"}, "v": {"N": "0"}})

    def bump(_: int) -> int:
        for attempt in range(200):
            current = int(dynamodb.get_item(TableName=table, Key={"pk": {"S": "n"}})["Item"]["v"]["N"])
            try:
                dynamodb.put_item(
                    TableName=table,
                    Item={"pk": {"S": "n"}, "v": {"N": str(current + 1)}},
                    ConditionExpression="v = :seen",
                    ExpressionAttributeValues={":seen": {"N": str(current)}},
                )
                return attempt
            except ClientError as exc:
                assert exc.response["Error"]["Code"] == "ConditionalCheckFailedException"
        raise AssertionError("no progress")

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(bump, range(40)))
    assert dynamodb.get_item(TableName=table, Key={"pk": {"S": "n"}})["Item"]["v"]["N"] == "40"


def _work(client: Any) -> dict[str, int]:
    """What the local moto has done so far, in items (its stats page)."""
    url = f"{client.meta.endpoint_url}{STATS_PATH}"
    stats = json.loads(urllib.request.urlopen(url, timeout=5).read())  # noqa: S310 - loopback
    return {k: int(stats[k]) for k in ("items_walked", "transaction_copies", "fast_updates")}


def _spent(client: Any, action: Any) -> dict[str, int]:
    before = _work(client)
    action()
    after = _work(client)
    return {k: after[k] - before[k] for k in after}


def test_a_transaction_and_a_query_cost_their_items_not_the_table(dynamodb: Any) -> None:
    """On a table of 6,000 items a transaction copies only the items it changes (moto's own
    deep-copies the table) and a query walks only its partition (moto's own sorts the table)."""
    big = _table(dynamodb, range_key=True)
    for chunk in range(0, 6000, 25):
        dynamodb.batch_write_item(
            RequestItems={
                big: [
                    {"PutRequest": {"Item": {"pk": {"S": f"p{i % 3000}"}, "sk": {"S": f"s{i:05d}"}}}}
                    for i in range(chunk, chunk + 25)
                ]
            }
        )

    def transaction() -> None:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": big,
                        "Item": {"pk": {"S": "p7"}, "sk": {"S": "s00007"}, "n": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": big, "Item": {"pk": {"S": "new"}, "sk": {"S": "a"}}}},
            ]
        )

    assert _spent(dynamodb, transaction)["transaction_copies"] == 1  # the one existing item

    def query() -> None:
        found = dynamodb.query(
            TableName=big,
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "p7"}},
            ScanIndexForward=False,
        )["Items"]
        assert [i["sk"]["S"] for i in found] == ["s03007", "s00007"]

    assert _spent(dynamodb, query)["items_walked"] == 2


def test_the_lock_is_held_per_request(dynamodb: Any) -> None:
    """Many readers and writers at once on one table: no request fails inside moto."""
    table = _table(dynamodb, range_key=True)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(15):
                dynamodb.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": f"{i}-{j}"}})
                dynamodb.query(
                    TableName=table,
                    KeyConditionExpression="pk = :p",
                    ExpressionAttributeValues={":p": {"S": "p"}},
                )
                dynamodb.scan(TableName=table, Limit=5)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert dynamodb.scan(TableName=table, Select="COUNT")["Count"] == 150


def test_an_index_query_finds_its_partition_in_order_without_sorting_the_table(dynamodb: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "plate", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_plate",
                "KeySchema": [
                    {"AttributeName": "plate", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for chunk in range(0, 5000, 25):
        items = []
        for i in range(chunk, chunk + 25):
            item = {"pk": {"S": f"lot#{i}"}, "sk": {"S": f"v{i:05d}"}}
            if i % 10:  # a sparse index: every tenth item has no plate
                item["plate"] = {"S": f"P{i % 7}"}
            items.append({"PutRequest": {"Item": item}})
        dynamodb.batch_write_item(RequestItems={name: items})

    def plates(plate: str, forward: bool) -> list[str]:
        found = dynamodb.query(
            TableName=name,
            IndexName="by_plate",
            KeyConditionExpression="plate = :p",
            ExpressionAttributeValues={":p": {"S": plate}},
            ScanIndexForward=forward,
            Limit=5,
        )["Items"]
        return [i["sk"]["S"] for i in found]

    expected = sorted(f"v{i:05d}" for i in range(5000) if i % 10 and i % 7 == 3)
    assert plates("P3", True) == expected[:5]
    assert plates("P3", False) == expected[::-1][:5]
    assert plates("nobody", True) == []
    # It walks the plate's items only (moto's own walks and sorts the 5,000 items every time).
    partition = sum(1 for i in range(5000) if i % 10 and i % 7 == 3)
    assert _spent(dynamodb, lambda: plates("P3", False))["items_walked"] == partition


@pytest.fixture(scope="module")
def stock_answers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The same patched moto, answering through moto's own serialiser and updating through
    moto's own `update_item`."""
    port = _free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PARKCHARGE_MOTO_FAST_JSON", "0")
        env.setenv("PARKCHARGE_MOTO_FAST_UPDATE", "0")
        server = MotoProcess(HOST, port, Path(tmp_path_factory.mktemp("moto-stock")), lambda_url=None)
        server.start()
    try:
        yield boto3.client(
            "dynamodb",
            endpoint_url=f"http://{HOST}:{port}",
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 0}),
        )
    finally:
        server.stop()


def _indexed_table(client: Any, name: str) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [
                    {"AttributeName": "g", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )


def _every_data_plane_answer(client: Any, name: str) -> list[Any]:
    rich = {
        "pk": {"S": "a"},
        "sk": {"S": "1"},
        "g": {"S": "x"},
        "n": {"N": "12.50"},
        "flag": {"BOOL": True},
        "none": {"NULL": True},
        "m": {"M": {"inner": {"L": [{"S": "粤B12345"}, {"N": "1"}, {"M": {}}]}}},
        "ss": {"SS": ["b", "a"]},
        "ns": {"NS": ["2", "1"]},
        "empty": {"S": ""},
    }
    key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
    calls: list[tuple[str, dict[str, Any]]] = [
        ("put_item", {"TableName": name, "Item": rich, "ReturnValues": "ALL_OLD"}),
        ("put_item", {"TableName": name, "Item": {**rich, "sk": {"S": "2"}}, "ReturnValues": "ALL_OLD"}),
        (
            "put_item",
            {"TableName": name, "Item": {**rich, "flag": {"BOOL": False}}, "ReturnValues": "ALL_OLD"},
        ),
        ("get_item", {"TableName": name, "Key": key, "ConsistentRead": True}),
        ("get_item", {"TableName": name, "Key": {"pk": {"S": "none"}, "sk": {"S": "1"}}}),
        (
            "update_item",
            {
                "TableName": name,
                "Key": key,
                "UpdateExpression": "SET #n = #n + :one, g = :g REMOVE #none ADD ss :more",
                "ExpressionAttributeNames": {"#n": "n", "#none": "none"},
                "ExpressionAttributeValues": {":one": {"N": "1"}, ":g": {"S": "y"}, ":more": {"SS": ["c"]}},
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "update_item",
            {
                "TableName": name,
                "Key": key,
                "UpdateExpression": "SET z = :z",
                "ExpressionAttributeValues": {":z": {"N": "0"}},
                "ReturnValues": "UPDATED_OLD",
            },
        ),
        (
            "update_item",
            {
                "TableName": name,
                "Key": key,
                "UpdateExpression": "SET z = :z",
                "ExpressionAttributeValues": {":z": {"N": "1"}},
            },
        ),
        (
            "query",
            {
                "TableName": name,
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": "a"}},
                "Limit": 1,
            },
        ),
        (
            "query",
            {
                "TableName": name,
                "IndexName": "by_g",
                "KeyConditionExpression": "g = :g",
                "ExpressionAttributeValues": {":g": {"S": "x"}},
                "ScanIndexForward": False,
            },
        ),
        (
            "query",
            {
                "TableName": name,
                "KeyConditionExpression": "pk = :p",
                "Select": "COUNT",
                "ExpressionAttributeValues": {":p": {"S": "a"}},
            },
        ),
        ("scan", {"TableName": name, "Limit": 1}),
        (
            "batch_write_item",
            {"RequestItems": {name: [{"PutRequest": {"Item": {**rich, "sk": {"S": "3"}}}}]}},
        ),
        ("batch_get_item", {"RequestItems": {name: {"Keys": [key, {"pk": {"S": "a"}, "sk": {"S": "3"}}]}}}),
        (
            "transact_write_items",
            {
                "TransactItems": [
                    {
                        "Put": {
                            "TableName": name,
                            "Item": {**rich, "sk": {"S": "4"}},
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": name,
                            "Key": key,
                            "UpdateExpression": "SET z = :z",
                            "ExpressionAttributeValues": {":z": {"N": "9"}},
                        }
                    },
                ]
            },
        ),
        ("transact_get_items", {"TransactItems": [{"Get": {"TableName": name, "Key": key}}]}),
        # PynamoDB's shapes (the direct update path): SET / REMOVE / ADD of plain attributes, a
        # map and a list, a number added to a missing attribute and to a decimal, a removal of
        # a missing attribute and of an index key, under a condition; then an update creating
        # its item.
        (
            "update_item",
            {
                "TableName": name,
                "Key": key,
                "UpdateExpression": "SET #0 = :0, #1 = :1, #2 = :2 REMOVE #3, #4, #g ADD #5 :5, #n :6",
                "ConditionExpression": "#flag = :yes",
                "ExpressionAttributeNames": {
                    "#0": "status",
                    "#1": "m",
                    "#2": "l",
                    "#3": "missing",
                    "#4": "empty",
                    "#g": "g",
                    "#5": "count",
                    "#n": "n",
                    "#flag": "flag",
                },
                "ExpressionAttributeValues": {
                    ":0": {"S": "acked"},
                    ":1": {"M": {"a": {"N": "1"}, "b": {"L": [{"S": "x"}]}}},
                    ":2": {"L": []},
                    ":5": {"N": "2"},
                    ":6": {"N": "0.25"},
                    ":yes": {"BOOL": False},
                },
                "ReturnValues": "ALL_NEW",
            },
        ),
        (
            "update_item",
            {
                "TableName": name,
                "Key": {"pk": {"S": "new"}, "sk": {"S": "1"}},
                "UpdateExpression": "SET #0 = :0 ADD #1 :1",
                "ExpressionAttributeNames": {"#0": "status", "#1": "count"},
                "ExpressionAttributeValues": {":0": {"S": "sent"}, ":1": {"N": "-1"}},
                "ReturnValues": "UPDATED_NEW",
            },
        ),
        (
            "update_item",
            {
                "TableName": name,
                "Key": {"pk": {"S": "new"}, "sk": {"S": "1"}},
                "UpdateExpression": "REMOVE #0",
                "ExpressionAttributeNames": {"#0": "status"},
                "ReturnValues": "ALL_OLD",
            },
        ),
        ("delete_item", {"TableName": name, "Key": key, "ReturnValues": "ALL_OLD"}),
    ]
    answers: list[Any] = []
    for operation, params in calls:
        answer = getattr(client, operation)(**params)
        fast = answer.pop("ResponseMetadata")["HTTPHeaders"].get(motopatch.FAST_JSON_HEADER)
        answers.append(("fast", fast))
        answers.append((operation, answer))
    for params in (  # errors keep moto's serialiser in both; compared all the same
        {
            "TableName": name,
            "Item": {**rich, "sk": {"S": "2"}},
            "ConditionExpression": "attribute_not_exists(pk)",
        },
    ):
        with pytest.raises(ClientError) as error:
            client.put_item(**params)
        answers.append(("error", error.value.response["Error"]))
    two = {"pk": {"S": "a"}, "sk": {"S": "2"}}
    for params in (
        # a failed condition, with and without the item in the error
        {
            "Key": two,
            "UpdateExpression": "SET #0 = :0",
            "ConditionExpression": "#0 = :1",
            "ExpressionAttributeNames": {"#0": "status"},
            "ExpressionAttributeValues": {":0": {"S": "x"}, ":1": {"S": "y"}},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        },
        {
            "Key": two,
            "UpdateExpression": "SET #0 = :0",
            "ConditionExpression": "attribute_not_exists(#0)",
            "ExpressionAttributeNames": {"#0": "pk"},
            "ExpressionAttributeValues": {":0": {"S": "x"}},
        },
        # moto decides: a number added to a string, a key attribute set, a string added
        {
            "Key": two,
            "UpdateExpression": "ADD #0 :0",
            "ExpressionAttributeNames": {"#0": "g"},
            "ExpressionAttributeValues": {":0": {"N": "1"}},
        },
        {
            "Key": two,
            "UpdateExpression": "SET #0 = :0",
            "ExpressionAttributeNames": {"#0": "sk"},
            "ExpressionAttributeValues": {":0": {"S": "9"}},
        },
        {
            "Key": two,
            "UpdateExpression": "ADD #0 :0",
            "ExpressionAttributeNames": {"#0": "n"},
            "ExpressionAttributeValues": {":0": {"S": "1"}},
        },
        # an item past 400 KB
        {
            "Key": two,
            "UpdateExpression": "SET #0 = :0",
            "ExpressionAttributeNames": {"#0": "big"},
            "ExpressionAttributeValues": {":0": {"S": "x" * 410_000}},
        },
    ):
        with pytest.raises(ClientError) as error:
            client.update_item(TableName=name, **params)
        answers.append(("error", error.value.response["Error"]))
        answers.append(("error item", error.value.response.get("Item")))
    answers.append(("after", client.get_item(TableName=name, Key=two, ConsistentRead=True)["Item"]))
    return answers


def _fast_updates(client: Any) -> int:
    return _work(client)["fast_updates"]


def test_the_fast_answers_are_motos_answers(dynamodb: Any, stock_answers: Any) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    _indexed_table(dynamodb, name)
    _indexed_table(stock_answers, name)
    direct, stock_direct = _fast_updates(dynamodb), _fast_updates(stock_answers)
    fast = _every_data_plane_answer(dynamodb, name)
    stock = _every_data_plane_answer(stock_answers, name)
    calls = len([a for a in fast if a[0] == "fast"])
    assert [a for a in fast if a[0] == "fast"] == [("fast", "1")] * calls  # every call took the fast path
    assert [a for a in stock if a[0] == "fast"] == [("fast", None)] * calls
    assert [a for a in fast if a[0] != "fast"] == [a for a in stock if a[0] != "fast"]
    # Decided on the direct path: the three PynamoDB-shaped updates, the failed condition on a
    # plain attribute and the oversized item; the other errors by moto; the stock stack's all.
    assert _fast_updates(dynamodb) - direct == 5 and _fast_updates(stock_answers) == stock_direct


def test_an_index_query_follows_every_write(dynamodb: Any) -> None:
    """Puts, updates that set, change or remove the index key, deletes, batch writes and a
    transaction that fails and rolls back: after each, the index answers what the items say."""
    import random

    name = f"t-{uuid.uuid4().hex[:8]}"
    _indexed_table(dynamodb, name)
    dice = random.Random(7)
    model: dict[str, str | None] = {}  # sk -> g (None: not in the index)

    def check() -> None:
        for g in ("g0", "g1", "g2"):
            found = dynamodb.query(
                TableName=name,
                IndexName="by_g",
                KeyConditionExpression="g = :g",
                ExpressionAttributeValues={":g": {"S": g}},
            )["Items"]
            assert sorted(i["sk"]["S"] for i in found) == sorted(k for k, v in model.items() if v == g), g

    for step in range(150):
        sk = f"s{dice.randrange(12):02d}"
        key = {"pk": {"S": "p"}, "sk": {"S": sk}}
        move = dice.choice(["put", "put_bare", "set", "remove", "delete", "batch", "failed_tx", "tx"])
        g = f"g{dice.randrange(3)}"
        if move == "put":
            dynamodb.put_item(TableName=name, Item={**key, "g": {"S": g}})
            model[sk] = g
        elif move == "put_bare":
            dynamodb.put_item(TableName=name, Item=key)
            model[sk] = None
        elif move == "set":
            dynamodb.update_item(
                TableName=name,
                Key=key,
                UpdateExpression="SET g = :g",
                ExpressionAttributeValues={":g": {"S": g}},
            )
            model[sk] = g
        elif move == "remove":
            dynamodb.update_item(TableName=name, Key=key, UpdateExpression="REMOVE g")
            model[sk] = None
        elif move == "delete":
            dynamodb.delete_item(TableName=name, Key=key)
            model.pop(sk, None)
        elif move == "batch":
            dynamodb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {**key, "g": {"S": g}}}}]})
            model[sk] = g
        elif move in ("failed_tx", "tx"):
            other = {"pk": {"S": "p"}, "sk": {"S": f"t{step}"}}
            items = [
                {
                    "Update": {
                        "TableName": name,
                        "Key": key,
                        "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": {"S": g}},
                    }
                },
                {"Put": {"TableName": name, "Item": {**other, "g": {"S": g}}}},
            ]
            if move == "failed_tx":
                items.append(
                    {
                        "ConditionCheck": {
                            "TableName": name,
                            "Key": other,
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    }
                )
                with pytest.raises(ClientError):
                    dynamodb.transact_write_items(TransactItems=items)
            else:
                dynamodb.transact_write_items(TransactItems=items)
                model[sk] = g
                model[f"t{step}"] = g
        check()
