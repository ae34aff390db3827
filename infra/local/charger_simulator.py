"""Charger simulator: an EV charger that speaks OCPP 1.6J over MQTT (as an OCPP gateway would carry
it) with the AWS IoT Device SDK's client, on the local broker.

    python -m infra.local.charger_simulator charge [--kwh 2] [--readings 5] [--qr demo-charger-1-1]

`Charger` is also what the e2e tests use: it connects with client id = charger id, subscribes to
its down topic, answers the central system's calls (RemoteStartTransaction and
RemoteStopTransaction are accepted and then carried out; Reset, ChangeAvailability and
TriggerMessage are accepted), sends its own calls and waits for their answers by message id.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from awscrt import mqtt

from infra.local.simulator import ApiError, _environment, connection, http_json

ACCEPT = ("Reset", "ChangeAvailability", "TriggerMessage")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Charger:
    def __init__(
        self, charger_id: str, host: str = "127.0.0.1", port: int = 1883, timeout: float = 10.0
    ) -> None:
        self.charger_id = charger_id
        self.timeout = timeout
        self.received: list[list[Any]] = []  # every frame from the central system
        self.sent: list[bytes] = []
        self.transactions: dict[int, int] = {}  # transaction id -> connector
        self.remote_starts: list[dict[str, Any]] = []
        self.remote_stops: list[int] = []
        self.answer_calls = True
        self._cond = threading.Condition()
        self._conn = connection(charger_id, host, port)

    @property
    def up(self) -> str:
        return f"parkcharge/charger/{self.charger_id}/ocpp/up"

    @property
    def down(self) -> str:
        return f"parkcharge/charger/{self.charger_id}/ocpp/down"

    def connect(self) -> Charger:
        self._conn.connect().result(self.timeout)
        future, _ = self._conn.subscribe(self.down, mqtt.QoS.AT_LEAST_ONCE, callback=self._on_message)
        future.result(self.timeout)
        return self

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.disconnect().result(self.timeout)

    def __enter__(self) -> Charger:
        return self.connect()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- the wire ---------------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        self.sent.append(data)
        future, _ = self._conn.publish(self.up, data, mqtt.QoS.AT_LEAST_ONCE)
        future.result(self.timeout)

    def resend_last(self) -> None:
        self.send_raw(self.sent[-1])

    def _on_message(self, topic: str, payload: bytes, **_kwargs: Any) -> None:
        try:
            frame = json.loads(payload)
        except ValueError:
            return
        with self._cond:
            self.received.append(frame)
            self._cond.notify_all()
        if isinstance(frame, list) and frame and frame[0] == 2 and self.answer_calls:
            threading.Thread(target=self._answer, args=(frame,), daemon=True).start()

    def _answer(self, frame: list[Any]) -> None:
        _, message_id, action, payload = frame
        if action == "RemoteStartTransaction":
            self.send_raw(json.dumps([3, message_id, {"status": "Accepted"}]).encode())
            with self._cond:
                self.remote_starts.append(payload)
                self._cond.notify_all()
        elif action == "RemoteStopTransaction":
            known = payload["transactionId"] in self.transactions
            self.send_raw(
                json.dumps([3, message_id, {"status": "Accepted" if known else "Rejected"}]).encode()
            )
            with self._cond:
                self.remote_stops.append(payload["transactionId"])
                self._cond.notify_all()
        elif action in ACCEPT:
            self.send_raw(json.dumps([3, message_id, {"status": "Accepted"}]).encode())
        else:
            self.send_raw(
                json.dumps([4, message_id, "NotSupported", f"{action} is not supported", {}]).encode()
            )

    def wait(self, predicate: Any, what: str) -> Any:
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                found = predicate()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.charger_id}: no {what} within {self.timeout} s")
                self._cond.wait(left)

    def call(self, action: str, payload: dict[str, Any], message_id: str | None = None) -> list[Any]:
        """Send a CALL and wait for its CALLRESULT or CALLERROR."""
        message_id = message_id or uuid.uuid4().hex[:16]
        self.send_raw(json.dumps([2, message_id, action, payload]).encode())
        return self.answer(message_id)

    def answer(self, message_id: str) -> list[Any]:
        return self.wait(
            lambda: next((f for f in reversed(self.received) if f[0] in (3, 4) and f[1] == message_id), None),
            f"answer to {message_id}",
        )

    # -- OCPP -------------------------------------------------------------------------------------
    def boot(self) -> list[Any]:
        return self.call(
            "BootNotification",
            {
                "chargePointVendor": "parkcharge-sim",
                "chargePointModel": "DC-120",
                "chargePointSerialNumber": "SN-DEMO-0001",
                "firmwareVersion": "1.0.0",
            },
        )

    def status(self, connector: int, status: str) -> list[Any]:
        return self.call(
            "StatusNotification",
            {"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": now_iso()},
        )

    def start_transaction(
        self, connector: int, id_tag: str, meter_start: int, message_id: str | None = None
    ) -> int:
        answer = self.call(
            "StartTransaction",
            {"connectorId": connector, "idTag": id_tag, "meterStart": meter_start, "timestamp": now_iso()},
            message_id,
        )
        transaction_id = int(answer[2]["transactionId"])
        self.transactions[transaction_id] = connector
        return transaction_id

    def meter(self, connector: int, transaction_id: int, wh: int) -> list[Any]:
        value = [
            {
                "timestamp": now_iso(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ]
        return self.call(
            "MeterValues", {"connectorId": connector, "transactionId": transaction_id, "meterValue": value}
        )

    def stop_transaction(self, transaction_id: int, wh: int, reason: str = "Remote") -> list[Any]:
        answer = self.call(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": wh, "timestamp": now_iso(), "reason": reason},
        )
        self.transactions.pop(transaction_id, None)
        return answer


def run_charge(args: argparse.Namespace, env: dict[str, Any]) -> int:
    token = env["tokens"].get("driver")
    api = env["api"]
    step = args.kwh * 1000 // args.readings
    with Charger(args.charger, env["mqtt_host"], env["mqtt_port"]) as charger:
        print(f"1. {args.charger} boots: {charger.boot()[2]}", flush=True)
        charger.status(args.connector, "Preparing")
        print(f"2. the car is plugged into connector {args.connector}", flush=True)
        session = http_json(
            "POST",
            f"{api}/v1/driver/charging/sessions",
            {"qr_id": args.qr, "prepay_fen": args.prepay, "plate": args.plate},
            token,
        )
        print(
            f"3. the driver scans {args.qr}: session {session['session_id']} ({session['state']}), "
            f"prepaid {session['prepaid_fen']} fen",
            flush=True,
        )
        start = charger.wait(
            lambda: charger.remote_starts[-1] if charger.remote_starts else None, "RemoteStartTransaction"
        )
        meter = 100_000
        transaction_id = charger.start_transaction(start["connectorId"], start["idTag"], meter)
        charger.status(args.connector, "Charging")
        print(f"4. RemoteStartTransaction received; transaction {transaction_id} started", flush=True)
        for _ in range(args.readings):
            time.sleep(args.interval)
            meter += step
            charger.meter(args.connector, transaction_id, meter)
            live = http_json("GET", f"{api}/v1/driver/charging/sessions/{session['session_id']}", None, token)
            print(f"   meter {meter} Wh: {live['energy_wh']} Wh so far, {live['cost_fen']} fen", flush=True)
        stopped = http_json(
            "POST", f"{api}/v1/driver/charging/sessions/{session['session_id']}/stop", {}, token
        )
        print(f"5. the driver stops: {stopped['state']}", flush=True)
        charger.wait(lambda: transaction_id in charger.remote_stops, "RemoteStopTransaction")
        charger.stop_transaction(transaction_id, meter)
        charger.status(args.connector, "Available")
        bill = http_json(
            "GET", f"{api}/v1/driver/charging/sessions/{session['session_id']}/bill", None, token
        )
        print("6. the settled bill:", json.dumps(bill, ensure_ascii=False, indent=2), flush=True)
        adds_up = (
            bill["total_fen"] == bill["electricity_fen"] + bill["service_fen"]
            and sum(p["amount_fen"] for p in bill["periods"]) == bill["total_fen"]
        )
        print(
            f"   electricity {bill['electricity_fen']} + service {bill['service_fen']} = total "
            f"{bill['total_fen']} fen ({'adds up' if adds_up else 'DOES NOT ADD UP'}); "
            f"{bill['refund_fen']} fen back to the wallet",
            flush=True,
        )
        return 0 if adds_up else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.charger_simulator",
        description="A simulated OCPP 1.6J charger on the local broker.",
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    charge = sub.add_parser("charge", help="charge the demo car from start to settled bill")
    charge.add_argument("--state-dir", default=".local")
    charge.add_argument("--api")
    charge.add_argument("--pay")
    charge.add_argument("--mqtt-host")
    charge.add_argument("--mqtt-port", type=int)
    charge.add_argument("--charger", default="demo-charger-1")
    charge.add_argument("--connector", type=int, default=1)
    charge.add_argument("--qr", default="demo-charger-1-1")
    charge.add_argument("--plate", default="粤B12345")
    charge.add_argument("--prepay", type=int, default=10000, help="fen (default 10000 = 100 yuan)")
    charge.add_argument("--kwh", type=int, default=1, help="energy to deliver (default 1 kWh)")
    charge.add_argument("--readings", type=int, default=4, help="meter readings (default 4)")
    charge.add_argument("--interval", type=float, default=1.0, help="seconds between readings (default 1)")
    args = parser.parse_args(argv)
    env = _environment(args)
    try:
        return run_charge(args, env)
    except ApiError as err:
        print(f"API error {err.status}: {json.dumps(err.body, ensure_ascii=False)}", file=sys.stderr)
        return 1
    except TimeoutError as err:
        print(f"timed out: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
