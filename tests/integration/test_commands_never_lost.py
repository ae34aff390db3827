"""Fault injection on the exit and payment paths: whatever fails after the deciding transaction
(the IoT data plane's publish, a DynamoDB read, a throttled transaction), the paid car at the
exit is let out, and a command the device acknowledged is never published to it again.

Faults are injected only at the boundary: the data-plane publisher, and PynamoDB's call into
botocore (`Connection._make_api_call`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from chalice.test import Client
from pynamodb.connection.base import Connection

from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, INSIDE, Visit
from chalicelib.payments import sandbox
from chalicelib.platform import commands, downlink, presence
from chalicelib.platform.models import ACKED, SENT, TIMED_OUT, Command
from tests.conftest import KEYS
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
PLATE = "粤B12345"
CALLBACK = "/v1/callbacks/payments/sandbox"


def now() -> datetime:
    return datetime.now(UTC)


class FlakyDataPlane(Recorder):
    """The IoT data plane failing its next `failures` publishes (throttled, or down)."""

    def __init__(self) -> None:
        super().__init__()
        self.failures = 0
        self.refused = 0

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        if self.failures > 0:
            self.failures -= 1
            self.refused += 1
            raise ClientError(
                {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "Publish"
            )
        super().publish(topic, message)

    def opens(self, device_id: str = EXIT) -> list[dict[str, Any]]:
        return self.commands(device_id, "open_gate")


@pytest.fixture
def plane(client: Client) -> Iterator[FlakyDataPlane]:
    flaky = FlakyDataPlane()
    downlink.set_publisher(flaky)
    yield flaky
    downlink.set_publisher(None)


class DynamoFaults:
    """Makes PynamoDB's next matching DynamoDB calls fail as DynamoDB would (a botocore error)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.rules: list[tuple[str, str, str, int]] = []  # (operation, table suffix, error code, count)
        self.before: dict[str, Callable[[], None]] = {}
        real = Connection._make_api_call

        def call(conn: Connection, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
            table = str(operation_kwargs.get("TableName", ""))
            if operation_name in self.before:
                self.before.pop(operation_name)()
            for i, (operation, suffix, code, count) in enumerate(self.rules):
                if operation == operation_name and table.endswith(suffix) and count > 0:
                    self.rules[i] = (operation, suffix, code, count - 1)
                    raise ClientError({"Error": {"Code": code, "Message": "injected"}}, operation_name)
            return real(conn, operation_name, operation_kwargs)

        monkeypatch.setattr(Connection, "_make_api_call", call)

    def fail(self, operation: str, code: str, table: str = "", count: int = 1) -> None:
        self.rules.append((operation, table, code, count))

    def run_before(self, operation: str, action: Callable[[], None]) -> None:
        """Run `action` once, just before the next `operation` call (an interleaving)."""
        self.before[operation] = action


@pytest.fixture
def faults(monkeypatch: pytest.MonkeyPatch) -> DynamoFaults:
    return DynamoFaults(monkeypatch)


def enter(minutes_ago: int) -> None:
    handlers.on_capture(
        iot_event(ENTRY, "capture", capture(ENTRY, "in", PLATE)), now() - timedelta(minutes=minutes_ago)
    )


def exit_event() -> dict[str, Any]:
    return iot_event(EXIT, "capture", capture(EXIT, "out", PLATE))


def quote_and_order(client: Client) -> tuple[str, int]:
    q = client.http.post("/v1/driver/quotes", body=json.dumps({"plate": PLATE}), headers=auth()).json_body
    pay = client.http.post(
        "/v1/driver/payments",
        body=json.dumps({"quote_id": q["quote_id"], "amount_fen": q["due_fen"]}),
        headers=auth(),
    )
    assert pay.status_code == 201, pay.body
    return pay.json_body["payment_id"], q["due_fen"]


def notify(client: Client, payment_id: str, amount: int, state: str = "SUCCESS") -> Any:
    body = json.dumps(
        {
            "out_trade_no": payment_id,
            "transaction_id": f"txn-{payment_id}",
            "amount_fen": amount,
            "trade_state": state,
            "success_time": "2026-11-22T01:00:00Z",
        }
    )
    headers = sandbox.sign(KEYS.pay_private.read_bytes(), body)
    return client.http.post(CALLBACK, body=body, headers={**headers, "Content-Type": "application/json"})


def visit() -> Visit:
    return next(
        iter(Visit.query(f"demo-lot#{PLATE}", scan_index_forward=False, limit=1, consistent_read=True))
    )


def waiting_at_exit(client: Client) -> tuple[str, int]:
    """A car that stayed 50 minutes, captured at the exit, waiting to pay."""
    enter(minutes_ago=50)
    assert handlers.on_capture(exit_event(), now())["result"] == "payment_required"
    return quote_and_order(client)


def ack(device_id: str, correlation_id: str) -> None:
    message = {
        "message_id": f"ack-{correlation_id}",
        "device_id": device_id,
        "correlation_id": correlation_id,
    }
    assert (
        handlers.on_ack(iot_event(device_id, "ack", {**message, "result": "ok"}), now())["result"]
        == "recorded"
    )


def status(device_id: str) -> None:
    message = {
        "message_id": f"s-{now().timestamp()}",
        "device_id": device_id,
        "state": "online",
        "barrier": "closed",
    }
    assert handlers.on_status(iot_event(device_id, "status", message), now())["result"] == "recorded"


def test_a_failed_publish_after_the_payment_is_resent_on_the_devices_next_message_and_never_after_its_ack(
    client: Client, plane: FlakyDataPlane
) -> None:
    payment_id, due = waiting_at_exit(client)
    plane.failures = commands.PUBLISH_ATTEMPTS * 2  # the open_gate and the display: every attempt fails
    assert notify(client, payment_id, due).status_code == 200
    assert plane.refused == commands.PUBLISH_ATTEMPTS * 2 and plane.opens() == []
    [pending] = [c for c in Command.query(EXIT) if c.command == "open_gate"]
    assert pending.status == SENT and visit().status == EXITED  # committed, in the outbox

    status(EXIT)  # the camera's next message
    [opened] = plane.opens()
    assert (
        opened["correlation_id"] == pending.correlation_id
        and opened["expires_at"] == pending.message["expires_at"]
    )

    ack(EXIT, opened["correlation_id"])
    plane.clear()
    status(EXIT)
    commands.sweep(now() + timedelta(seconds=commands.RESEND_AFTER.seconds + 1))
    assert plane.opens() == []  # acknowledged: never published again
    assert Command.get(EXIT, opened["correlation_id"]).status == ACKED


def test_the_schedule_resends_what_was_not_delivered_until_it_expires(
    client: Client, plane: FlakyDataPlane
) -> None:
    payment_id, due = waiting_at_exit(client)
    plane.failures = commands.PUBLISH_ATTEMPTS * 2
    notify(client, payment_id, due)
    assert plane.opens() == []
    sweep = commands.sweep(now() + commands.RESEND_AFTER + timedelta(seconds=1))
    assert sweep.resent >= 2 and len(plane.opens()) == 1
    [opened] = plane.opens()
    # Past its validity it is not sent again: it times out, counted at its site (the lot).
    expired = commands.sweep(now() + timedelta(minutes=5))
    assert expired.resent == 0 and expired.timed_out_by_site["demo-lot"] >= 1
    assert Command.get(EXIT, opened["correlation_id"]).status == TIMED_OUT
    assert len(plane.opens()) == 1


def test_a_retried_capture_is_not_a_silent_duplicate_when_its_commands_were_never_delivered(
    client: Client, plane: FlakyDataPlane
) -> None:
    enter(minutes_ago=5)  # the demo lot charges from the first minute
    payment_id, due = quote_and_order(client)
    assert notify(client, payment_id, due).status_code == 200  # paid before reaching the exit
    event = exit_event()
    plane.failures = commands.PUBLISH_ATTEMPTS * 2
    assert handlers.on_capture(event, now())["result"] == "exited"
    assert plane.opens() == []
    again = handlers.on_capture(event, now())  # the same message delivered again
    assert again["result"] == "duplicate"
    [opened] = plane.opens()
    assert visit().status == EXITED and opened["visit_id"] == visit().visit_id


def test_a_reconnect_publishes_what_the_device_missed(client: Client, plane: FlakyDataPlane) -> None:
    payment_id, due = waiting_at_exit(client)
    plane.failures = commands.PUBLISH_ATTEMPTS * 2
    notify(client, payment_id, due)
    ms = int(now().timestamp() * 1000)
    import base64

    event = {
        "payload_b64": base64.b64encode(
            json.dumps({"eventType": "connected", "timestamp": ms}).encode()
        ).decode(),
        "topic": f"$aws/events/presence/connected/{EXIT}",
        "topic_device_id": EXIT,
    }
    assert presence.on_presence(event, now())["result"] == "recorded"
    assert len(plane.opens()) == 1


def test_a_read_failing_after_the_payment_committed_still_releases_the_car(
    client: Client, plane: FlakyDataPlane, faults: DynamoFaults
) -> None:
    payment_id, due = waiting_at_exit(client)
    # The payment commits; the read of the visit after the commit, before the release, fails
    # (throttled): the fault is armed as the payment's transaction goes out.
    faults.run_before(
        "TransactWriteItems",
        lambda: faults.fail("GetItem", "ProvisionedThroughputExceededException", table="visits"),
    )
    first = notify(client, payment_id, due)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert plane.opens() == [] and visit().status == INSIDE and int(visit().paid_fen) == due
    # The provider retries its notification: already applied, and the car is let out.
    again = notify(client, payment_id, due)
    assert again.status_code == 200 and again.json_body["message"] == "already applied"
    [opened] = plane.opens()
    assert visit().status == EXITED and opened["visit_id"] == visit().visit_id
    assert notify(client, payment_id, due).status_code == 200 and len(plane.opens()) == 1  # once


def test_a_throttled_payment_transaction_is_retried_by_the_provider_and_releases_the_car(
    client: Client, plane: FlakyDataPlane, faults: DynamoFaults
) -> None:
    payment_id, due = waiting_at_exit(client)
    faults.fail("TransactWriteItems", "ThrottlingException")
    first = notify(client, payment_id, due)
    assert first.status_code == 503 and first.headers["Retry-After"] == "1"
    assert first.json_body["code"] == "unavailable" and visit().status == INSIDE
    assert notify(client, payment_id, due).json_body["message"] == "applied"
    assert len(plane.opens()) == 1 and visit().status == EXITED


def test_a_throttled_exit_transaction_is_retried_and_opens_the_barrier(
    client: Client, plane: FlakyDataPlane, faults: DynamoFaults
) -> None:
    enter(minutes_ago=50)
    payment_id, due = quote_and_order(client)
    notify(client, payment_id, due)
    event = exit_event()
    faults.fail("TransactWriteItems", "ThrottlingException")
    with pytest.raises(Exception) as raised:
        handlers.on_capture(event, now())  # the function fails: IoT invokes it again
    from chalicelib.shared.db import is_throttled

    assert is_throttled(raised.value) and plane.opens() == []
    assert handlers.on_capture(event, now())["result"] == "exited"
    assert len(plane.opens()) == 1 and visit().status == EXITED


def test_a_payment_committing_between_the_exits_read_and_write_still_opens_the_barrier(
    client: Client, plane: FlakyDataPlane, faults: DynamoFaults
) -> None:
    """The reported interleaving: the capture reads "due", the payment commits and finds no car
    waiting, then the capture writes. Its condition on the paid amount fails, it decides again,
    sees the payment and opens."""
    enter(minutes_ago=50)
    payment_id, due = quote_and_order(client)
    results: list[Any] = []
    faults.run_before("TransactWriteItems", lambda: results.append(notify(client, payment_id, due)))
    outcome = handlers.on_capture(exit_event(), now())
    assert results[0].status_code == 200 and results[0].json_body["message"] == "applied"
    assert outcome["result"] == "exited"
    [opened] = plane.opens()
    assert visit().status == EXITED and visit().waiting_exit_device_id is None
    assert opened["visit_id"] == visit().visit_id
    shown = [c for c in plane.commands(EXIT, "display")]
    assert shown and "请缴费" not in " ".join(shown[-1]["lines"])


def test_a_notification_that_is_not_a_success_gets_its_own_answer(
    client: Client, plane: FlakyDataPlane
) -> None:
    payment_id, due = waiting_at_exit(client)
    closed = notify(client, payment_id, due, state="CLOSED")
    assert closed.status_code == 200 and closed.json_body["outcome"] == "not_success"
    assert "already" not in closed.json_body["message"] and visit().status == INSIDE
    assert notify(client, payment_id, due).json_body["message"] == "applied"
    assert notify(client, payment_id, due).json_body["message"] == "already applied"


def test_the_car_captured_again_at_the_barrier_it_was_let_out_of_gets_the_open_again(
    client: Client, plane: FlakyDataPlane
) -> None:
    """The open after the payment did not reach the device; the camera captures the car again
    (a new message): not an unmatched exit, the open is published again."""
    from chalicelib.parking.models import Record

    payment_id, due = waiting_at_exit(client)
    plane.failures = commands.PUBLISH_ATTEMPTS * 2
    notify(client, payment_id, due)
    assert plane.opens() == []
    again = handlers.on_capture(exit_event(), now())
    assert again["result"] == "already_exited"
    [opened] = plane.opens()
    assert opened["visit_id"] == visit().visit_id
    assert [r for r in Record.query("demo-lot") if r.type == "unmatched_exit"] == []


def test_the_next_car_at_a_camera_whose_publish_failed_gets_the_missed_commands_first(
    client: Client, plane: FlakyDataPlane
) -> None:
    plane.failures = commands.PUBLISH_ATTEMPTS * 2  # the first car's open_gate and display
    enter(minutes_ago=0)
    assert plane.commands(ENTRY) == []
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B54321")), now())
    opened = plane.commands(ENTRY, "open_gate")
    assert [c["visit_id"] for c in opened] == [visit().visit_id, opened[1]["visit_id"]]
    assert opened[1]["visit_id"] != visit().visit_id  # the missed open first, then the new car's
    plane.clear()
    handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", "粤B54322")), now())
    assert len(plane.commands(ENTRY, "open_gate")) == 1  # delivered now: not published again
