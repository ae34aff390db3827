"""Charger simulator: an EV charger that speaks OCPP 1.6J over MQTT (as an OCPP gateway carries it:
each JSON frame unchanged on `parkcharge/charger/{id}/ocpp/up` and `.../ocpp/down`), with the AWS
IoT Device SDK's client over plain TCP to the local broker (see docs/ocpp.md).

    python -m infra.local.charger_simulator charge --charger demo-charger-1 --connector 1 \
        [--kwh 5] [--minutes 1] [--stop driver|full] [--api http://127.0.0.1:8000]

`Charger` is also what the e2e tests use. It connects with client id = charger id, subscribes to
its down topic, records every frame it receives, and answers the central system's calls with
valid CALLRESULTs: RemoteStartTransaction and RemoteStopTransaction (Rejected for an unknown
transaction or a busy connector), Reset, ChangeAvailability (Scheduled while a transaction runs)
and TriggerMessage (the requested message follows). With `auto=True` it also carries the calls
out: a remote start is followed by StartTransaction, a remote stop by StopTransaction, a reset by
StopTransaction and a new BootNotification. Its own calls wait for the CALLRESULT or CALLERROR
with the same message id. Options: resend a frame (same message id), go silent (transaction
frames are queued, as OCPP 1.6 chargers do, and delivered on `wake()`), send malformed frames,
finish by itself (car full), report power with meter values.

The frame builders at the top are pure (no broker) and tested in tests/unit/local/test_charger_simulator.py.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from awscrt import mqtt

from chalicelib.platform import topics as charger_topics
from infra.local.simulator import _environment, connection, http_json, report_errors

T = TypeVar("T")
ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
# OCPP 1.6: transaction-related messages a charger keeps while offline and delivers later.
QUEUED_WHILE_SILENT = ("StartTransaction", "MeterValues", "StopTransaction")
TRIGGERABLE = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "MeterValues",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
)


# --- pure frame building -------------------------------------------------------------------------


def now_iso(at: datetime | None = None) -> str:
    """An OCPP dateTime in UTC with a Z, to the millisecond."""
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_message_id() -> str:
    return uuid.uuid4().hex[:16]


def frame_bytes(frame: list[Any]) -> bytes:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode()


def call(message_id: str, action: str, payload: dict[str, Any]) -> bytes:
    return frame_bytes([2, message_id, action, payload])


def call_result(message_id: str, payload: dict[str, Any]) -> bytes:
    return frame_bytes([3, message_id, payload])


def call_error(message_id: str, code: str, description: str) -> bytes:
    return frame_bytes([4, message_id, code, description, {}])


def boot_payload(
    vendor: str = "parkcharge-sim",
    model: str = "DC-120",
    serial: str = "SN-DEMO-0001",
    firmware: str = "1.0.0",
) -> dict[str, Any]:
    return {
        "chargePointVendor": vendor,
        "chargePointModel": model,
        "chargePointSerialNumber": serial,
        "firmwareVersion": firmware,
    }


def status_payload(
    connector: int, status: str, error_code: str = "NoError", at: datetime | None = None
) -> dict[str, Any]:
    return {"connectorId": connector, "errorCode": error_code, "status": status, "timestamp": now_iso(at)}


def start_payload(
    connector: int, id_tag: str, meter_start: int, at: datetime | None = None
) -> dict[str, Any]:
    return {"connectorId": connector, "idTag": id_tag, "meterStart": meter_start, "timestamp": now_iso(at)}


def meter_value(
    wh: int | Decimal,
    at: datetime | None = None,
    power_w: int | None = None,
    context: str = "Sample.Periodic",
    unit: str = "Wh",
) -> dict[str, Any]:
    """One meterValue: the energy register as a string (Wh, or kWh with unit="kWh"), and the
    active import power in W when given."""
    value = Decimal(wh) / 1000 if unit == "kWh" else Decimal(wh)
    sampled: list[dict[str, Any]] = [
        {"value": str(value), "context": context, "measurand": ENERGY, "unit": unit}
    ]
    if power_w is not None:
        sampled.append({"value": str(power_w), "context": context, "measurand": POWER, "unit": "W"})
    return {"timestamp": now_iso(at), "sampledValue": sampled}


def meter_values_payload(
    connector: int,
    transaction_id: int | None,
    wh: int,
    power_w: int | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {"connectorId": connector, "meterValue": [meter_value(wh, at, power_w)]}
    if transaction_id is not None:
        payload["transactionId"] = transaction_id
    return payload


def stop_payload(
    transaction_id: int,
    meter_stop: int,
    reason: str = "Remote",
    at: datetime | None = None,
    id_tag: str | None = None,
    transaction_data: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "transactionId": transaction_id,
        "meterStop": meter_stop,
        "timestamp": now_iso(at),
        "reason": reason,
    }
    if id_tag is not None:
        payload["idTag"] = id_tag
    if transaction_data is not None:
        payload["transactionData"] = transaction_data
    return payload


# Malformed frames and the CALLERROR code parkcharge answers each with (docs/ocpp.md).
MALFORMED: dict[str, tuple[Callable[[str], bytes], str]] = {
    "not_json": (lambda mid: f'[2,"{mid}","Heartbeat"'.encode(), "FormationViolation"),
    "not_array": (lambda mid: json.dumps({"id": mid}).encode(), "FormationViolation"),
    "bad_message_type": (lambda mid: frame_bytes([9, mid, "Heartbeat", {}]), "ProtocolError"),
    "missing_payload": (lambda mid: frame_bytes([2, mid, "Heartbeat"]), "FormationViolation"),
    "unknown_action": (lambda mid: call(mid, "Teleport", {}), "NotImplemented"),
    "missing_field": (
        lambda mid: call(mid, "StatusNotification", {"connectorId": 1, "errorCode": "NoError"}),
        "OccurenceConstraintViolation",
    ),
    "wrong_type": (
        lambda mid: call(
            mid, "StatusNotification", {"connectorId": "one", "errorCode": "NoError", "status": "Available"}
        ),
        "TypeConstraintViolation",
    ),
    "bad_value": (
        lambda mid: call(
            mid, "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}
        ),
        "PropertyConstraintViolation",
    ),
    "naive_timestamp": (
        lambda mid: call(
            mid,
            "StartTransaction",
            {"connectorId": 1, "idTag": "x", "meterStart": 0, "timestamp": "2026-11-22T10:00:00"},
        ),
        "TypeConstraintViolation",
    ),
}


def malformed_frame(kind: str, message_id: str) -> bytes:
    return MALFORMED[kind][0](message_id)


# --- the device ----------------------------------------------------------------------------------


@dataclass
class Transaction:
    transaction_id: int
    connector: int
    id_tag: str
    meter_start: int
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class Silent(RuntimeError):
    """A call that needs an answer was made while the charger is silent."""


class Charger:
    """One simulated OCPP 1.6J charger."""

    def __init__(
        self,
        charger_id: str,
        host: str = "127.0.0.1",
        port: int = 1883,
        timeout: float = 10.0,
        *,
        connectors: int = 1,
        meter_wh: int = 100_000,
        auto: bool = False,
        answer_calls: bool = True,
        certs_dir: Path | str | None = None,
    ) -> None:
        self.charger_id = charger_id
        self.certs_dir = certs_dir  # the local CA's directory: connect with the charger's certificate
        self.host, self.port = host, port
        self.timeout = timeout
        self.auto = auto  # carry out remote start / stop / reset, not only answer them
        self.answer_calls = answer_calls
        self.silent = False
        self.received: list[list[Any]] = []  # every JSON array frame from the central system
        self.received_raw: list[bytes] = []  # every payload, even one that is not JSON
        self.sent: list[bytes] = []  # every frame published, in order
        self.queued: list[bytes] = []  # transaction frames kept while silent
        self.dropped: list[bytes] = []  # other frames not sent while silent
        self.transactions: dict[int, int] = {}  # open transaction id -> connector
        self.open: dict[int, Transaction] = {}  # open transaction id -> details
        self.remote_starts: list[dict[str, Any]] = []
        self.remote_stops: list[int] = []
        self.connector_status: dict[int, str] = dict.fromkeys(range(1, connectors + 1), "Available")
        self.meters: dict[int, int] = dict.fromkeys(range(1, connectors + 1), meter_wh)
        self.heartbeat_interval = 60
        self._by_id: dict[str, bytes] = {}
        self._cond = threading.Condition()
        self._conn: mqtt.Connection | None = None
        self._heartbeats: threading.Event | None = None

    # -- connection -------------------------------------------------------------------------------
    @property
    def up(self) -> str:
        return charger_topics.charger_up(self.charger_id)

    @property
    def down(self) -> str:
        return charger_topics.charger_down(self.charger_id)

    def connect(self) -> Charger:
        self._conn = connection(self.charger_id, self.host, self.port, self.certs_dir)
        self._conn.connect().result(self.timeout)
        future, _ = self._conn.subscribe(self.down, mqtt.QoS.AT_LEAST_ONCE, callback=self._on_message)
        future.result(self.timeout)
        return self

    def close(self) -> None:
        self.stop_heartbeats()
        if self._conn is not None:
            with contextlib.suppress(Exception):  # already gone
                self._conn.disconnect().result(self.timeout)

    def __enter__(self) -> Charger:
        return self.connect()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the wire ---------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        """Publish any bytes on the up topic (even a malformed frame); nothing while silent."""
        if self.silent:
            self.dropped.append(data)
            return
        if self._conn is None:
            raise RuntimeError(f"{self.charger_id} is not connected")
        with self._cond:
            self.sent.append(data)
        future, _ = self._conn.publish(self.up, data, mqtt.QoS.AT_LEAST_ONCE)
        future.result(self.timeout)

    def resend(self, message_id: str | None = None) -> None:
        """Send a frame again, byte for byte (same message id): the last one, or the one with
        `message_id`."""
        with self._cond:
            data = self._by_id[message_id] if message_id is not None else self.sent[-1]
        self.send_raw(data)

    def resend_last(self) -> None:
        self.resend()

    def send_malformed(self, kind: str, message_id: str | None = None) -> tuple[str, str]:
        """Send one of MALFORMED's frames; returns (message id, the CALLERROR code expected)."""
        message_id = message_id or new_message_id()
        build, code = MALFORMED[kind]
        self.send_raw(build(message_id))
        return message_id, code

    def go_silent(self) -> None:
        """Stop sending and answering (the link is down): transaction frames are queued, others
        dropped; frames that arrive are still recorded."""
        self.silent = True

    def wake(self) -> list[list[Any]]:
        """Back online: deliver the queued transaction frames in order, each waiting for its
        answer; returns the answers."""
        self.silent = False
        answers = []
        while self.queued:
            data = self.queued.pop(0)
            self.send_raw(data)
            answers.append(self.answer(json.loads(data)[1]))
        return answers

    def _on_message(self, topic: str, payload: bytes, **_kwargs: Any) -> None:
        raw = bytes(payload)
        try:
            frame = json.loads(raw)
        except ValueError:
            frame = None
        with self._cond:
            self.received_raw.append(raw)
            if isinstance(frame, list) and frame:
                self.received.append(frame)
            self._cond.notify_all()
        if (
            isinstance(frame, list)
            and len(frame) == 4
            and frame[0] == 2
            and self.answer_calls
            and not self.silent
        ):
            # Off the client's event loop thread: answering publishes and waits for the PUBACK.
            threading.Thread(target=self._serve, args=(frame,), daemon=True).start()

    # -- waiting ----------------------------------------------------------------------------------
    def wait(self, predicate: Callable[[], T | None], what: str, timeout: float | None = None) -> T:
        """The first truthy value of `predicate()`, checked whenever a frame arrives."""
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        with self._cond:
            while True:
                found = predicate()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.charger_id}: no {what} within {limit} s")
                self._cond.wait(min(left, 0.5))

    def answer(self, message_id: str, timeout: float | None = None) -> list[Any]:
        """The CALLRESULT or CALLERROR for one of this charger's calls (the latest one)."""
        return self.wait(
            lambda: next(
                (f for f in reversed(self.received) if f[0] in (3, 4) and len(f) > 1 and f[1] == message_id),
                None,
            ),
            f"answer to {message_id}",
            timeout,
        )

    def wait_error(
        self, message_id: str | None = None, timeout: float | None = None, since: int = 0
    ) -> list[Any]:
        """A CALLERROR (for `message_id`, or any) received after position `since`."""
        return self.wait(
            lambda: next(
                (
                    f
                    for f in self.received[since:]
                    if f[0] == 4 and (message_id is None or (len(f) > 1 and f[1] == message_id))
                ),
                None,
            ),
            f"CALLERROR {message_id or ''}".strip(),
            timeout,
        )

    def wait_call(self, action: str, timeout: float | None = None, since: int = 0) -> list[Any]:
        """A CALL from the central system with this action, received after position `since`."""
        return self.wait(
            lambda: next(
                (f for f in self.received[since:] if f[0] == 2 and len(f) == 4 and f[2] == action), None
            ),
            action,
            timeout,
        )

    def mark(self) -> int:
        with self._cond:
            return len(self.received)

    # -- calls ------------------------------------------------------------------------------------
    def send_call(self, action: str, payload: dict[str, Any], message_id: str | None = None) -> str:
        """Send a CALL without waiting; while silent, a transaction frame is queued. Returns the
        message id."""
        message_id = message_id or new_message_id()
        data = call(message_id, action, payload)
        with self._cond:
            self._by_id[message_id] = data
        if self.silent and action in QUEUED_WHILE_SILENT:
            self.queued.append(data)
        else:
            self.send_raw(data)
        return message_id

    def call(self, action: str, payload: dict[str, Any], message_id: str | None = None) -> list[Any]:
        """Send a CALL and wait for its CALLRESULT or CALLERROR (the whole frame)."""
        if self.silent:
            raise Silent(f"{self.charger_id} is silent: {action} would get no answer")
        return self.answer(self.send_call(action, payload, message_id))

    def _queue_or_call(self, action: str, payload: dict[str, Any]) -> list[Any] | None:
        if self.silent:
            self.send_call(action, payload)
            return None
        return self.call(action, payload)

    # -- OCPP: the charger's own messages ---------------------------------------------------------
    def boot(self, **fields: str) -> list[Any]:
        answer = self.call("BootNotification", boot_payload(**fields))
        if answer[0] == 3 and isinstance(answer[2].get("interval"), int):
            self.heartbeat_interval = answer[2]["interval"]
        return answer

    def heartbeat(self) -> list[Any]:
        return self.call("Heartbeat", {})

    def status(self, connector: int, status: str, error_code: str = "NoError") -> list[Any]:
        """StatusNotification, e.g. Available, Preparing (plugged in), Charging, Finishing."""
        if connector:
            self.connector_status[connector] = status
        return self.call("StatusNotification", status_payload(connector, status, error_code))

    def authorize(self, id_tag: str) -> list[Any]:
        return self.call("Authorize", {"idTag": id_tag})

    def start_transaction(
        self, connector: int, id_tag: str, meter_start: int | None = None, message_id: str | None = None
    ) -> int:
        """StartTransaction; returns the transaction id parkcharge gave (0 when refused)."""
        meter = self.meters.get(connector, 0) if meter_start is None else meter_start
        self.meters[connector] = meter
        answer = self.call("StartTransaction", start_payload(connector, id_tag, meter), message_id)
        if answer[0] != 3:
            raise RuntimeError(f"StartTransaction refused: {answer}")
        transaction_id = int(answer[2].get("transactionId", 0))
        if answer[2].get("idTagInfo", {}).get("status") == "Accepted":
            with self._cond:
                self.transactions[transaction_id] = connector
                self.open[transaction_id] = Transaction(transaction_id, connector, id_tag, meter)
                self._cond.notify_all()
        return transaction_id

    def meter(
        self, connector: int, transaction_id: int | None, wh: int, power_w: int | None = None
    ) -> list[Any] | None:
        """MeterValues with the cumulative register `wh` (as a string, in Wh) and, if given, the
        power in W. Queued while silent (returns None then)."""
        self.meters[connector] = wh
        return self._queue_or_call(
            "MeterValues", meter_values_payload(connector, transaction_id, wh, power_w)
        )

    def deliver(self, connector: int, wh: int, power_w: int | None = None) -> list[Any] | None:
        """The car takes `wh` more: the meter goes up and, in a transaction, MeterValues is sent."""
        with self._cond:
            transaction_id = self.transaction_on(connector)
            self.meters[connector] = self.meters.get(connector, 0) + wh
            reading = self.meters[connector]
        if transaction_id is None:
            return None
        return self.meter(connector, transaction_id, reading, power_w)

    def stop_transaction(
        self,
        transaction_id: int,
        wh: int | None = None,
        reason: str = "Remote",
        transaction_data: bool = True,
    ) -> list[Any] | None:
        """StopTransaction with meterStop (default: the connector's meter), the reason and, by
        default, transactionData holding the final reading. Queued while silent."""
        with self._cond:
            connector = self.transactions.pop(transaction_id, None)
            opened = self.open.pop(transaction_id, None)
            self._cond.notify_all()
        meter = wh if wh is not None else self.meters.get(connector or 1, 0)
        data = [meter_value(meter, context="Transaction.End")] if transaction_data else None
        payload = stop_payload(
            transaction_id, meter, reason, id_tag=opened.id_tag if opened else None, transaction_data=data
        )
        return self._queue_or_call("StopTransaction", payload)

    def finish(self, connector: int = 1, reason: str = "EVDisconnected") -> list[Any] | None:
        """The car is full (or unplugged) and the charger ends the transaction by itself:
        Finishing, StopTransaction with `reason` ("EVDisconnected" or "Local"), Available."""
        transaction_id = self.transaction_on(connector)
        if transaction_id is None:
            raise RuntimeError(f"no transaction on connector {connector}")
        self._status_quietly(connector, "Finishing")
        answer = self.stop_transaction(transaction_id, reason=reason)
        self._status_quietly(connector, "Available")
        return answer

    def transaction_on(self, connector: int) -> int | None:
        with self._cond:
            return next((t for t, c in self.transactions.items() if c == connector), None)

    def start_heartbeats(self, interval: float | None = None) -> None:
        """Heartbeat every `interval` seconds (default: what BootNotification said) until close()."""
        self.stop_heartbeats()
        stop = self._heartbeats = threading.Event()
        every = interval or self.heartbeat_interval

        def beat() -> None:
            while not stop.wait(every):
                if not self.silent:
                    with contextlib.suppress(Exception):
                        self.heartbeat()

        threading.Thread(target=beat, daemon=True).start()

    def stop_heartbeats(self) -> None:
        if self._heartbeats is not None:
            self._heartbeats.set()
            self._heartbeats = None

    def _status_quietly(self, connector: int, status: str) -> None:
        self.connector_status[connector] = status
        if self.silent:
            return
        with contextlib.suppress(TimeoutError):
            self.call("StatusNotification", status_payload(connector, status))

    # -- OCPP: the central system's calls ---------------------------------------------------------
    def reply(self, action: str, payload: dict[str, Any]) -> tuple[bool, dict[str, Any] | str]:
        """What this charger answers to a call, from its state alone: (True, CALLRESULT payload)
        or (False, CALLERROR code). Pure: nothing is sent."""
        with self._cond:
            if action == "RemoteStartTransaction":
                connector = int(payload.get("connectorId") or 1)
                free = connector in self.meters and self.transaction_on(connector) is None
                if self.connector_status.get(connector) in ("Unavailable", "Faulted"):
                    free = False
                return True, {"status": "Accepted" if free else "Rejected"}
            if action == "RemoteStopTransaction":
                known = payload.get("transactionId") in self.transactions
                return True, {"status": "Accepted" if known else "Rejected"}
            if action == "Reset":
                return True, {"status": "Accepted"}
            if action == "ChangeAvailability":
                connector = int(payload.get("connectorId", 0))
                busy = any(c == connector or connector == 0 for c in self.transactions.values())
                return True, {"status": "Scheduled" if busy else "Accepted"}
            if action == "TriggerMessage":
                known = payload.get("requestedMessage") in TRIGGERABLE
                return True, {"status": "Accepted" if known else "NotImplemented"}
        return False, "NotSupported"

    def _serve(self, frame: list[Any]) -> None:
        _, message_id, action, payload = frame
        if not isinstance(payload, dict):
            payload = {}
        ok, body = self.reply(str(action), payload)
        if not ok:
            self.send_raw(call_error(str(message_id), str(body), f"{action} is not supported"))
            return
        assert isinstance(body, dict)
        self.send_raw(call_result(str(message_id), body))
        accepted = body.get("status") == "Accepted"
        with self._cond:
            if action == "RemoteStartTransaction":
                self.remote_starts.append(payload)
            elif action == "RemoteStopTransaction":
                self.remote_stops.append(payload.get("transactionId", -1))
            self._cond.notify_all()
        try:
            self._carry_out(str(action), payload, accepted)
        except (TimeoutError, RuntimeError) as err:
            print(f"{self.charger_id}: {action} not carried out: {err}", file=sys.stderr, flush=True)

    def _carry_out(self, action: str, payload: dict[str, Any], accepted: bool) -> None:
        if action == "TriggerMessage" and accepted:
            self._triggered(str(payload["requestedMessage"]), payload.get("connectorId"))
        if not (self.auto and accepted):
            return
        if action == "RemoteStartTransaction":
            connector = int(payload.get("connectorId") or 1)
            if self.connector_status.get(connector) == "Available":
                self._status_quietly(connector, "Preparing")
            if self.start_transaction(connector, str(payload["idTag"])):
                self._status_quietly(connector, "Charging")
        elif action == "RemoteStopTransaction":
            transaction_id = int(payload["transactionId"])
            connector = self.transactions.get(transaction_id, 1)
            self._status_quietly(connector, "Finishing")
            self.stop_transaction(transaction_id, reason="Remote")
            self._status_quietly(connector, "Available")
        elif action == "Reset":
            reason = "HardReset" if payload.get("type") == "Hard" else "SoftReset"
            for transaction_id in list(self.transactions):
                self.stop_transaction(transaction_id, reason=reason)
            self.boot()
            for connector in self.connector_status:
                self._status_quietly(connector, "Available")
        elif action == "ChangeAvailability":
            connector = int(payload.get("connectorId", 0))
            status = "Unavailable" if payload.get("type") == "Inoperative" else "Available"
            for number in self.connector_status if connector == 0 else [connector]:
                self._status_quietly(number, status)

    def _triggered(self, message: str, connector: int | None) -> None:
        if message == "BootNotification":
            self.boot()
        elif message == "Heartbeat":
            self.heartbeat()
        elif message == "StatusNotification":
            for number in [connector] if connector else list(self.connector_status):
                self.status(number, self.connector_status.get(number, "Available"))
        elif message == "MeterValues":
            for number in [connector] if connector else list(self.meters):
                self.meter(number, self.transaction_on(number), self.meters[number])
        elif message in ("DiagnosticsStatusNotification", "FirmwareStatusNotification"):
            self.call(message, {"status": "Idle"})


# --- the demo charge -----------------------------------------------------------------------------


class DriverApp:
    """The HTTP side of the demo: what the driver's app does (docs/api.md)."""

    def __init__(self, api: str, token: str | None) -> None:
        self.api = api
        self.token = token

    def start(self, qr_id: str, prepay_fen: int, plate: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"qr_id": qr_id, "prepay_fen": prepay_fen}
        if plate:
            body["plate"] = plate
        result: dict[str, Any] = http_json(
            "POST", f"{self.api}/v1/driver/charging/sessions", body, self.token
        )
        return result

    def session(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = http_json(
            "GET", f"{self.api}/v1/driver/charging/sessions/{session_id}", None, self.token
        )
        return result

    def stop(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = http_json(
            "POST", f"{self.api}/v1/driver/charging/sessions/{session_id}/stop", {}, self.token
        )
        return result

    def bill(self, session_id: str) -> dict[str, Any]:
        result: dict[str, Any] = http_json(
            "GET", f"{self.api}/v1/driver/charging/sessions/{session_id}/bill", None, self.token
        )
        return result


def _say(text: str) -> None:
    print(text, flush=True)


def run_charge(args: argparse.Namespace, env: dict[str, Any]) -> int:
    app = DriverApp(env["api"], env["tokens"].get("driver"))
    connector = args.connector
    total_wh = int((args.kwh * 1000).to_integral_value())
    readings = max(1, args.readings)
    interval = args.minutes * 60 / readings if args.minutes else args.interval
    with Charger(
        args.charger,
        env["mqtt_host"],
        env["mqtt_port"],
        timeout=max(10.0, interval * 3),
        auto=True,
        certs_dir=env["certs_dir"],
    ) as charger:
        boot = charger.boot()
        _say(f"1. {args.charger} boots: {boot[2]}")
        charger.start_heartbeats()
        charger.status(connector, "Available")
        charger.status(connector, "Preparing")
        _say(f"2. the car is plugged into connector {connector}")

        session = app.start(args.qr, args.prepay, args.plate)
        session_id = session["session_id"]
        _say(
            f"3. the driver scans {args.qr}: session {session_id} ({session['state']}), "
            f"prepaid {session['prepaid_fen']} fen"
        )
        charger.wait(
            lambda: charger.remote_starts[-1] if charger.remote_starts else None, "RemoteStartTransaction"
        )
        transaction_id = charger.wait(lambda: charger.transaction_on(connector), "StartTransaction answer")
        _say(f"4. RemoteStartTransaction accepted; transaction {transaction_id} started")

        delivered = 0
        for n in range(readings):
            time.sleep(interval)
            if charger.transaction_on(connector) != transaction_id:
                break  # parkcharge stopped it (RemoteStopTransaction): balance, staff, auto-stop
            step = total_wh * (n + 1) // readings - delivered
            delivered += step
            power = round(step * 3600 / interval) if interval > 0 else None
            charger.deliver(connector, step, power)
            live = app.session(session_id)
            _say(
                f"   meter {charger.meters[connector]} Wh: {live.get('energy_wh')} Wh so far, "
                f"{live.get('cost_fen')} fen"
            )

        if charger.transaction_on(connector) == transaction_id:
            if args.stop == "full":
                _say("5. the car is full: the charger ends the transaction (EVDisconnected)")
                charger.finish(connector, "EVDisconnected")
            else:
                stopped = app.stop(session_id)
                _say(f"5. the driver stops: {stopped['state']}")
        else:
            _say("5. parkcharge stopped the charge")
        charger.wait(lambda: transaction_id not in charger.transactions or None, "StopTransaction")
        if transaction_id in charger.remote_stops:
            _say("   RemoteStopTransaction received; StopTransaction sent")
        time.sleep(0.5)
        bill = app.bill(session_id)
        _say("6. the settled bill: " + json.dumps(bill, ensure_ascii=False, indent=2))
        adds_up = (
            bill["total_fen"] == bill["electricity_fen"] + bill["service_fen"]
            and sum(p["amount_fen"] for p in bill["periods"]) == bill["total_fen"]
        )
        _say(
            f"   electricity {bill['electricity_fen']} + service {bill['service_fen']} = total "
            f"{bill['total_fen']} fen ({'adds up' if adds_up else 'DOES NOT ADD UP'}); "
            f"{bill['refund_fen']} fen back to the wallet"
        )
        return 0 if adds_up else 1


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--state-dir", default=".local", help="the local stack's state dir (stack.json)")
    common.add_argument("--api", help="API base URL (default: from the running stack)")
    common.add_argument("--pay", help=argparse.SUPPRESS)
    common.add_argument("--mqtt-host", help="broker host (default: from the running stack)")
    common.add_argument("--mqtt-port", type=int, help="broker port (default: from the running stack)")
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.charger_simulator",
        description="A simulated OCPP 1.6J charger on the local broker.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    charge = sub.add_parser(
        "charge", parents=[common], help="charge the demo car from QR scan to settled bill"
    )
    charge.add_argument("--charger", default="demo-charger-1")
    charge.add_argument("--connector", type=int, default=1)
    charge.add_argument("--qr", default="demo-charger-1-1", help="the connector's QR id")
    charge.add_argument("--plate", default="粤B12345")
    charge.add_argument("--prepay", type=int, default=10000, help="fen (default 10000 = 100 yuan)")
    charge.add_argument("--kwh", type=Decimal, default=Decimal(1), help="energy to deliver (default 1 kWh)")
    charge.add_argument("--readings", type=int, default=4, help="meter readings (default 4)")
    charge.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    charge.add_argument("--minutes", type=float, default=0, help="spread the readings over N minutes instead")
    charge.add_argument(
        "--stop",
        choices=("driver", "full"),
        default="driver",
        help="after --kwh: the driver stops in the app (default) or the car is full and the charger stops",
    )
    args = parser.parse_args(argv)
    env = _environment(args)
    return report_errors(lambda: run_charge(args, env), env)


if __name__ == "__main__":
    sys.exit(main())
