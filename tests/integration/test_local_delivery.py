"""The local rules bridge's AWS delivery semantics, with the app's real handlers on moto: IoT
invokes a function asynchronously, a failing invocation is retried twice and then goes to the
function's on-failure destination (the IoT dead-letter queue), whose consumer stores it as a dead
letter with its reason; a message the consumer cannot store stays on the queue and is retried."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest

from infra.local import iotsql, runtime
from infra.local.bridge import ASYNC_RETRIES, RulesBridge, load_rules
from infra.local.events import SqsPoller
from infra.local.stack import PROJECT_ROOT
from tests.integration.conftest import capture

REGION = "us-east-1"
DEADLINE = 20.0


def _until(what: str, check: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _drain(sqs: Any, queue: str) -> None:
    """Empty the queue (the moto session is shared by the tests; PurgeQueue is once a minute)."""
    for _ in range(50):
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=30)
        if not got.get("Messages"):
            return
        for message in got["Messages"]:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def stack_parts(demo: dict[str, str]) -> Iterator[tuple[Any, Any, RulesBridge, str]]:
    app_module = runtime.load_app()
    sqs = boto3.client("sqs", region_name=REGION)
    bridge = RulesBridge(
        load_rules(PROJECT_ROOT / "iot-rules", app_module), "127.0.0.1", 1, sqs, REGION, retry_delay=0.05
    )
    bridge.ensure_queues()
    queue = sqs.get_queue_url(QueueName="parkcharge-iot-dead-letters")["QueueUrl"]
    _drain(sqs, queue)
    try:
        yield app_module, sqs, bridge, queue
    finally:
        bridge.stop()
        _drain(sqs, queue)
        from chalicelib.tables import create_all_tables

        create_all_tables()  # the tests take tables away; the session's other tests need them


def _capture_message(device: str = "demo-entry-cam") -> iotsql.Message:
    body = capture(device, "in", "粤B54321")
    return iotsql.Message(
        topic=f"parkcharge/gate/{device}/up/capture",
        payload=json.dumps(body, ensure_ascii=False).encode(),
        timestamp_ms=int(time.time() * 1000),
    )


def _dead_letters() -> list[Any]:
    from chalicelib.platform.models import DeadLetter

    return list(DeadLetter.query("iot-rule"))


def test_a_raising_function_is_retried_twice_then_ends_as_a_dead_letter_with_its_reason(
    stack_parts: tuple[Any, Any, RulesBridge, str],
) -> None:
    from chalicelib.parking.models import Visit

    app_module, sqs, bridge, queue = stack_parts
    Visit.delete_table()  # the gate path's first read fails: the function raises
    [rule] = [r for r in bridge.rules if r.function == "gate_capture"]
    bridge._apply(rule, _capture_message())

    def destination_record() -> dict[str, Any] | None:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1, VisibilityTimeout=0)
        return json.loads(got["Messages"][0]["Body"]) if got.get("Messages") else None

    record = _until("the on-failure destination record", destination_record)
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 1 + ASYNC_RETRIES
    assert record["requestContext"]["functionArn"].endswith(":function:parkcharge-local-gate_capture:$LATEST")
    assert record["requestPayload"]["topic"] == "parkcharge/gate/demo-entry-cam/up/capture"
    assert record["responsePayload"]["errorType"]

    poller = SqsPoller(app_module, sqs, REGION)
    poller.start()
    try:
        [letter] = _until("the dead letter", _dead_letters)
    finally:
        poller.stop()
    assert "parkcharge-local-gate_capture" in letter.reason
    assert "RetriesExhausted" in letter.reason
    assert record["responsePayload"]["errorType"] in letter.reason
    assert letter.topic == "parkcharge/gate/demo-entry-cam/up/capture"
    assert json.loads(letter.payload)["requestPayload"]["payload_b64"]
    _until(
        "an empty queue", lambda: not sqs.receive_message(QueueUrl=queue, VisibilityTimeout=0).get("Messages")
    )


def test_a_dead_letter_that_cannot_be_stored_stays_on_the_queue_until_it_can(
    stack_parts: tuple[Any, Any, RulesBridge, str],
) -> None:
    from chalicelib.platform.models import DeadLetter

    app_module, sqs, bridge, queue = stack_parts
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    [rule] = [r for r in bridge.rules if r.function == "gate_capture"]
    DeadLetter.delete_table()  # DynamoDB "down" for the consumer
    sqs.send_message(
        QueueUrl=queue,
        MessageBody=json.dumps(
            bridge.destination_record(rule, {"topic": "t"}, "req-1", 3, RuntimeError("boom"))
        ),
    )
    poller = SqsPoller(app_module, sqs, REGION)
    poller.start()
    try:
        time.sleep(2.5)  # the consumer failed at least once and the message came back
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
        waiting = int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )
        assert waiting == 1
        DeadLetter.create_table(wait=True, billing_mode="PAY_PER_REQUEST")
        [letter] = _until("the dead letter", _dead_letters)
    finally:
        poller.stop()
    assert "RuntimeError: boom" in letter.reason
