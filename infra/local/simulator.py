"""Gate device simulator: plate cameras that talk MQTT to the local broker with the AWS IoT Device
SDK, over mutual TLS with the device's own certificate from the local CA
(`mqtt_connection_builder.mtls_from_path`, as a device connects to IoT Core), or plain TCP when the
stack runs the amqtt fallback broker.

    python -m infra.local.simulator visit --plate 粤B12345
    python -m infra.local.simulator capture --device demo-entry-cam --plate 粤B12345 --direction in
    python -m infra.local.simulator status --device demo-entry-cam --barrier closed

`GateDevice` is also what the e2e tests use: it connects with client id = device id, subscribes to
its `down/#` topics, records every command and error it receives, acknowledges commands on `up/ack`
(unless told not to) and publishes captures and status messages with fresh message ids.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from awscrt import mqtt

TOPIC_PREFIX = "parkcharge/gate"
DEVICE_TZ = timezone(timedelta(hours=8))
DEMO_ENTRY = ("demo-entry-cam", "entry-1")
DEMO_EXIT = ("demo-exit-cam", "exit-1")


def topic(device_id: str, direction: str, kind: str) -> str:
    return f"{TOPIC_PREFIX}/{device_id}/{direction}/{kind}"


def device_time() -> str:
    return datetime.now(DEVICE_TZ).isoformat(timespec="seconds")


@dataclass
class Received:
    topic: str
    kind: str  # "command" or "error" (the last topic level)
    payload: bytes
    at: float = field(default_factory=time.monotonic)

    @property
    def body(self) -> dict[str, Any]:
        try:
            data = json.loads(self.payload)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


def connection(client_id: str, host: str, port: int, certs_dir: Path | str | None = None) -> mqtt.Connection:
    """A device's MQTT connection with the IoT SDK: client id = thing name. With `certs_dir` (the
    local CA's directory) mutual TLS with the thing's certificate, whose name the broker takes as
    the device's identity; without it plain TCP (the amqtt fallback broker)."""
    if certs_dir is not None:
        from awsiot import mqtt_connection_builder

        from infra.local import certs

        cert = certs.certificate(certs_dir, client_id)
        return mqtt_connection_builder.mtls_from_path(
            endpoint=host,
            port=port,
            cert_filepath=str(cert.cert),
            pri_key_filepath=str(cert.key),
            ca_filepath=str(cert.ca),
            client_id=client_id,
            clean_session=True,
            keep_alive_secs=30,
            reconnect_min_timeout_secs=1,
            reconnect_max_timeout_secs=5,
        )
    return mqtt.Connection(
        client=mqtt.Client(None, None),
        host_name=host,
        port=port,
        client_id=client_id,
        clean_session=True,
        keep_alive_secs=30,
        reconnect_min_timeout_secs=1,
        reconnect_max_timeout_secs=5,
    )


class GateDevice:
    """One simulated gate device (camera + barrier + LED display)."""

    def __init__(
        self,
        device_id: str,
        lane_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 1883,
        auto_ack: bool = True,
        ack_result: str = "ok",
        timeout: float = 10.0,
        certs_dir: Path | str | None = None,
    ) -> None:
        self.device_id = device_id
        self.lane_id = lane_id
        self.auto_ack = auto_ack
        self.ack_result = ack_result
        self.timeout = timeout
        self.received: list[Received] = []
        self.acks_sent: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._conn = connection(device_id, host, port, certs_dir)

    # -- connection -------------------------------------------------------------------------------
    def connect(self) -> GateDevice:
        self._conn.connect().result(self.timeout)
        future, _ = self._conn.subscribe(
            topic(self.device_id, "down", "#"), mqtt.QoS.AT_LEAST_ONCE, callback=self._on_message
        )
        future.result(self.timeout)
        return self

    def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone
            self._conn.disconnect().result(self.timeout)

    def __enter__(self) -> GateDevice:
        return self.connect()

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- up ---------------------------------------------------------------------------------------
    def publish(self, kind: str, payload: bytes | str | dict[str, Any]) -> None:
        """Publish any payload (even a malformed one) on one of this device's up topics."""
        if isinstance(payload, dict):
            payload = json.dumps(payload, ensure_ascii=False)
        data = payload.encode() if isinstance(payload, str) else payload
        future, _ = self._conn.publish(topic(self.device_id, "up", kind), data, mqtt.QoS.AT_LEAST_ONCE)
        future.result(self.timeout)

    def capture(
        self,
        plate: str,
        direction: str,
        lane_id: str | None = None,
        message_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": message_id or str(uuid.uuid4()),
            "device_id": self.device_id,
            "lane_id": lane_id or self.lane_id,
            "direction": direction,
            "plate": plate,
            "plate_color": 1,
            "vehicle_type": 1,
            "confidence": 96,
            "device_time": device_time(),
        }
        message.update(extra)
        self.publish("capture", message)
        return message

    def status(self, state: str = "online", barrier: str = "closed") -> dict[str, Any]:
        message = {
            "message_id": str(uuid.uuid4()),
            "device_id": self.device_id,
            "state": state,
            "barrier": barrier,
            "device_time": device_time(),
        }
        self.publish("status", message)
        return message

    def ack(self, correlation_id: str, result: str = "ok", detail: str = "") -> dict[str, Any]:
        message = {
            "message_id": str(uuid.uuid4()),
            "device_id": self.device_id,
            "correlation_id": correlation_id,
            "result": result,
            "detail": detail,
            "device_time": device_time(),
        }
        self.publish("ack", message)
        return message

    # -- down -------------------------------------------------------------------------------------
    def _on_message(self, topic: str, payload: bytes, **_kwargs: Any) -> None:
        item = Received(topic=topic, kind=topic.rsplit("/", 1)[-1], payload=bytes(payload))
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()
        body = item.body
        if item.kind == "command" and self.auto_ack and body.get("correlation_id"):
            ack = {
                "message_id": str(uuid.uuid4()),
                "device_id": self.device_id,
                "correlation_id": body["correlation_id"],
                "result": self.ack_result,
                "detail": "",
                "device_time": device_time(),
            }
            # On the client's event loop thread: publish without waiting for the PUBACK.
            self._conn.publish(
                topic_name(self.device_id, "ack"), json.dumps(ack).encode(), mqtt.QoS.AT_LEAST_ONCE
            )
            self.acks_sent.append(ack)

    @property
    def commands(self) -> list[dict[str, Any]]:
        with self._cond:
            return [r.body for r in self.received if r.kind == "command"]

    @property
    def errors(self) -> list[dict[str, Any]]:
        with self._cond:
            return [r.body for r in self.received if r.kind == "error"]

    def mark(self) -> int:
        """A position in the received list; `wait_for(..., since=mark)` looks only at what came after."""
        with self._cond:
            return len(self.received)

    def wait_for(
        self,
        kind: str,
        match: Callable[[dict[str, Any]], bool] = lambda _b: True,
        timeout: float | None = None,
        since: int = 0,
    ) -> dict[str, Any]:
        """The first received `kind` message (after `since`) whose body satisfies `match`."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        with self._cond:
            while True:
                for item in self.received[since:]:
                    if item.kind == kind and match(item.body):
                        return item.body
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [r.body or r.payload for r in self.received[since:]]
                    raise TimeoutError(
                        f"{self.device_id}: no matching {kind} within the timeout; received {seen}"
                    )
                self._cond.wait(remaining)

    def wait_command(
        self, command: str, timeout: float | None = None, since: int = 0, **fields: Any
    ) -> dict[str, Any]:
        def match(body: dict[str, Any]) -> bool:
            return body.get("command") == command and all(body.get(k) == v for k, v in fields.items())

        return self.wait_for("command", match, timeout, since)

    def wait_error(
        self, ref_message_id: str | None = None, timeout: float | None = None, since: int = 0
    ) -> dict[str, Any]:
        return self.wait_for(
            "error",
            lambda b: ref_message_id is None or b.get("ref_message_id") == ref_message_id,
            timeout,
            since,
        )


def topic_name(device_id: str, kind: str) -> str:
    return topic(device_id, "up", kind)


# -- the HTTP side of the demo --------------------------------------------------------------------
class ApiError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status = status
        self.body = body


def http_json(method: str, url: str, body: Any = None, token: str | None = None, timeout: float = 15) -> Any:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:  # noqa: S310 - loopback URLs
            raw = reply.read()
    except urllib.error.HTTPError as err:
        raw = err.read()
        try:
            detail: Any = json.loads(raw)
        except ValueError:
            detail = raw.decode(errors="replace")
        raise ApiError(err.code, detail) from None
    return json.loads(raw) if raw else None


def _show(label: str, data: Any) -> None:
    print(f"{label}: {json.dumps(data, ensure_ascii=False)}", flush=True)


def _show_new(device: GateDevice, since: int, settle: float = 0.5) -> int:
    time.sleep(settle)
    items = device.received[since:]
    for item in items:
        _show(f"  {device.device_id} <- {item.kind}", item.body or item.payload.decode(errors="replace"))
    return since + len(items)


def _device(env: dict[str, Any], device_id: str, lane_id: str | None) -> GateDevice:
    return GateDevice(device_id, lane_id, env["mqtt_host"], env["mqtt_port"], certs_dir=env["certs_dir"])


def run_visit(args: argparse.Namespace, env: dict[str, Any]) -> int:
    entry_id, entry_lane = DEMO_ENTRY
    exit_id, exit_lane = DEMO_EXIT
    token = env["tokens"].get("driver")
    api, pay = env["api"], env["pay"]
    with (
        _device(env, entry_id, entry_lane) as entry,
        _device(env, exit_id, exit_lane) as exit_,
    ):
        print(f"1. {args.plate} arrives at {entry_id} ({entry_lane})", flush=True)
        seen = entry.mark()
        entry.capture(args.plate, "in")
        entry.wait_for("command")
        _show_new(entry, seen)

        stay = args.minutes * 60 if args.minutes else args.stay
        print(f"2. parked for {stay:.0f} s", flush=True)
        time.sleep(stay)

        print(f"3. {args.plate} arrives at {exit_id} ({exit_lane})", flush=True)
        seen = exit_.mark()
        exit_.capture(args.plate, "out")
        first = exit_.wait_for("command")
        seen = _show_new(exit_, seen)
        if first.get("command") == "open_gate" or any(
            c.get("command") == "open_gate" for c in exit_.commands
        ):
            print("   nothing due: the exit opened", flush=True)
        else:
            print("4. the driver pays in the app", flush=True)
            quote = http_json("POST", f"{api}/v1/driver/quotes", {"plate": args.plate}, token)
            _show("   quote", {k: quote.get(k) for k in ("quote_id", "total_fen", "paid_fen", "due_fen")})
            payment = http_json(
                "POST",
                f"{api}/v1/driver/payments",
                {"quote_id": quote["quote_id"], "amount_fen": quote["due_fen"], "method": "sandbox"},
                token,
            )
            _show("   payment", {k: payment.get(k) for k in ("payment_id", "status", "amount_fen")})
            order = payment.get("provider_order") or {}
            paid = http_json(
                "POST",
                f"{pay}/v1/pay",
                {
                    "out_trade_no": order.get("out_trade_no", payment["payment_id"]),
                    "amount_fen": quote["due_fen"],
                },
            )
            _show("   sandbox provider", paid)
            exit_.wait_command("open_gate", since=seen)
            _show_new(exit_, seen)
        visits = http_json(
            "GET", f"{api}/v1/driver/visits?plate={urllib.parse.quote(args.plate)}", token=token
        )
        items = (visits.get("visits") or []) if isinstance(visits, dict) else visits
        _show("5. the visit", items[0] if items else visits)
    return 0


def run_capture(args: argparse.Namespace, env: dict[str, Any]) -> int:
    lane = args.lane or (DEMO_ENTRY[1] if args.direction == "in" else DEMO_EXIT[1])
    with _device(env, args.device, lane) as device:
        message = device.capture(args.plate, args.direction)
        _show(f"{args.device} -> capture", message)
        try:
            device.wait_for("command", timeout=args.wait) if args.wait else None
        except TimeoutError:
            print("no command received", flush=True)
        _show_new(device, 0)
    return 0


def run_status(args: argparse.Namespace, env: dict[str, Any]) -> int:
    with _device(env, args.device, None) as device:
        _show(f"{args.device} -> status", device.status(args.state, args.barrier))
        _show_new(device, 0)
    return 0


def report_errors(run: Callable[[], int], env: dict[str, Any]) -> int:
    """Run a simulator command; API errors, time-outs and an unreachable broker end it with a
    message and exit code 1 instead of a trace."""
    try:
        return run()
    except ApiError as err:
        print(f"API error {err.status}: {json.dumps(err.body, ensure_ascii=False)}", file=sys.stderr)
        return 1
    except TimeoutError as err:
        print(f"timed out: {err}", file=sys.stderr)
        return 1
    except Exception as err:
        if "AWS_ERROR" in str(err) or "CONNECTION" in str(err).upper():
            print(
                f"cannot reach the broker at {env['mqtt_host']}:{env['mqtt_port']}: is `make run` up? ({err})"
            )
            return 1
        raise


def _environment(args: argparse.Namespace) -> dict[str, Any]:
    """URLs and ports: flags first, then the running stack's <state>/stack.json, then the defaults."""
    state = Path(args.state_dir)
    stack: dict[str, Any] = {}
    if (state / "stack.json").exists():
        stack = json.loads((state / "stack.json").read_text(encoding="utf-8"))
    tokens: dict[str, str] = {}
    if (state / "tokens.json").exists():
        tokens = json.loads((state / "tokens.json").read_text(encoding="utf-8"))
    return {
        "api": (args.api or stack.get("api_url") or "http://127.0.0.1:8000").rstrip("/"),
        "pay": (args.pay or stack.get("pay_url") or "http://127.0.0.1:8002").rstrip("/"),
        "mqtt_host": args.mqtt_host or stack.get("mqtt_host") or "127.0.0.1",
        "mqtt_port": args.mqtt_port or stack.get("mqtt_port") or 1883,
        # The local CA's directory: devices connect with their certificates (mosquitto).
        "certs_dir": stack.get("certs_dir"),
        "tokens": tokens,
    }


def main(argv: list[str] | None = None) -> int:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--state-dir", default=".local", help="the local stack's state dir (stack.json, tokens.json)"
    )
    common.add_argument("--api", help="API base URL (default: from the running stack)")
    common.add_argument("--pay", help="sandbox provider base URL (default: from the running stack)")
    common.add_argument("--mqtt-host", help="broker host (default: from the running stack)")
    common.add_argument("--mqtt-port", type=int, help="broker port (default: from the running stack)")
    p = argparse.ArgumentParser(prog="python -m infra.local.simulator", description="Simulated gate devices.")
    sub = p.add_subparsers(dest="cmd", required=True)
    visit = sub.add_parser(
        "visit", parents=[common], help="drive a whole demo visit: entry, exit, pay, leave"
    )
    visit.add_argument("--plate", default="粤B12345")
    visit.add_argument("--stay", type=float, default=2.0, help="seconds between entry and exit (default 2)")
    visit.add_argument("--minutes", type=float, default=0, help="stay N minutes instead (real time)")
    cap = sub.add_parser("capture", parents=[common], help="one plate capture")
    cap.add_argument("--device", default=DEMO_ENTRY[0])
    cap.add_argument("--plate", default="粤B12345")
    cap.add_argument("--direction", choices=("in", "out"), default="in")
    cap.add_argument("--lane", help="default entry-1 for in, exit-1 for out")
    cap.add_argument("--wait", type=float, default=5.0, help="seconds to wait for a command")
    st = sub.add_parser("status", parents=[common], help="one status message")
    st.add_argument("--device", default=DEMO_ENTRY[0])
    st.add_argument("--state", default="online")
    st.add_argument("--barrier", default="closed")
    args = p.parse_args(argv)
    env = _environment(args)
    commands = {"visit": run_visit, "capture": run_capture, "status": run_status}
    return report_errors(lambda: commands[args.cmd](args, env), env)


if __name__ == "__main__":
    sys.exit(main())
