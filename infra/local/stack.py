"""The embedded local stack on 127.0.0.1: this process runs the app (IoT rules bridge, SQS
consumers, scheduler, Chalice's local HTTP server, the Lambda endpoint, the sandbox payment provider
and the fakes of WeChat Pay and Alipay);
moto (server mode, patched: `motopatch`) and the MQTT broker (mosquitto with client certificates,
or amqtt) run as child processes. Keys, certificates, tables and demo data are set up on start.

`python -m infra.local --help` lists the options. Ctrl-C / SIGTERM stops everything.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from infra.local import keys as local_keys
from infra.local.broker import Broker, create_broker
from infra.local.moto_server import MotoProcess

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
READY_LINE = "parkcharge local stack ready"
DEMO_DRIVER = "demo-driver"
DEMO_STAFF = "demo-staff"
DEMO_OPERATOR = "demo-op"
LISTEN_BACKLOG = 256
SWITCH_INTERVAL = 0.0005


@dataclass(frozen=True)
class Ports:
    api: int
    mqtt: int
    moto: int
    pay: int
    lambda_: int
    wechat: int = 0
    alipay: int = 0


@dataclass(frozen=True)
class StackInfo:
    """What clients need to reach the stack; written to <state>/stack.json."""

    api_url: str
    pay_url: str
    # The local fakes of WeChat Pay (API v3 base URL) and Alipay (its gateway.do URL).
    wechat_url: str
    alipay_url: str
    mqtt_host: str
    mqtt_port: int
    aws_endpoint_url: str
    broker: str
    state_dir: str
    # The local CA's directory when the broker requires client certificates (mosquitto), else None.
    certs_dir: str | None
    lambda_url: str
    # Process ids of the stack and its children (for tools measuring the whole stack).
    pids: dict[str, int]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m infra.local", description="Run parkcharge locally on 127.0.0.1."
    )
    p.add_argument(
        "--api-port", type=int, default=8000, help="HTTP API (Chalice local server); 0 picks a free port"
    )
    p.add_argument("--mqtt-port", type=int, default=1883, help="MQTT broker; 0 picks a free port")
    p.add_argument("--moto-port", type=int, default=8001, help="moto server (AWS APIs); 0 picks a free port")
    p.add_argument("--pay-port", type=int, default=8002, help="sandbox payment provider; 0 picks a free port")
    p.add_argument("--wechat-port", type=int, default=8003, help="WeChat Pay fake; 0 picks a free port")
    p.add_argument("--alipay-port", type=int, default=8004, help="Alipay fake; 0 picks a free port")
    p.add_argument(
        "--state-dir", default=".local", help="keys, tokens, broker config and logs (default .local)"
    )
    p.add_argument(
        "--broker", choices=("auto", "mosquitto", "amqtt"), default="auto", help="MQTT broker to run"
    )
    p.add_argument("--no-demo", action="store_true", help="create the tables but no demo data")
    p.add_argument(
        "--schedule-speedup",
        type=float,
        default=1.0,
        help="run scheduled functions N times as often as their rate (e.g. 6 runs rate(1 minute) every 10 s)",
    )
    p.add_argument(
        "--command-timeout", type=int, default=10, help="seconds before an unacked command times out"
    )
    p.add_argument(
        "--retry-delay",
        type=float,
        default=1.0,
        help="seconds before the first retry of a failed IoT-invoked function (AWS: about a minute);"
        " the second waits twice as long",
    )
    p.add_argument(
        "--approval-day-seconds",
        type=int,
        default=86_400,
        help="seconds an approval's wait counts as a day (its template's days, then it escalates)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="also show the app's INFO logs")
    return p.parse_args(argv)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _check_free(port: int, what: str) -> int:
    if port == 0:
        return _free_port()
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((HOST, port))
        except OSError:
            raise SystemExit(
                f"port {port} ({what}) on {HOST} is in use: is another local stack running? "
                f"Stop it or pass another --{what}-port."
            ) from None
    return port


def app_environment(
    ports: Ports,
    keys: local_keys.LocalKeys,
    command_timeout: int,
    verbose: bool,
    approval_day_seconds: int = 86_400,
) -> dict[str, str]:
    """The variables the app reads (chalicelib.settings); set before app.py is imported."""
    from chalicelib.shared.settings import state_machine_env

    return {
        "AWS_ENDPOINT_URL": f"http://{HOST}:{ports.moto}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "PARKCHARGE_STAGE": "local",
        "PARKCHARGE_TABLE_PREFIX": "parkcharge-local-",
        "PARKCHARGE_DOWNLINK": "mqtt",
        "PARKCHARGE_MQTT_HOST": HOST,
        "PARKCHARGE_MQTT_PORT": str(ports.mqtt),
        "PARKCHARGE_JWT_ISSUER": local_keys.LOCAL_ISSUER,
        "PARKCHARGE_JWT_AUDIENCE": local_keys.LOCAL_AUDIENCE,
        "PARKCHARGE_JWKS_FILE": str(keys.jwks),
        "PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_FILE": str(keys.pay_public),
        "PARKCHARGE_SANDBOX_PAY_URL": f"http://{HOST}:{ports.pay}",
        "PARKCHARGE_WECHAT_GATEWAY_URL": f"http://{HOST}:{ports.wechat}",
        "PARKCHARGE_ALIPAY_GATEWAY_URL": f"http://{HOST}:{ports.alipay}/gateway.do",
        "PARKCHARGE_NOTIFY_BASE_URL": f"http://{HOST}:{ports.api}",
        "PARKCHARGE_COMMAND_TIMEOUT_SECONDS": str(command_timeout),
        "PARKCHARGE_APPROVAL_DAY_SECONDS": str(approval_day_seconds),
        **{state_machine_env(name): arn for name, arn in state_machine_arns().items()},
        "POWERTOOLS_SERVICE_NAME": "parkcharge",
        "POWERTOOLS_METRICS_NAMESPACE": "parkcharge",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO" if verbose else "WARNING",
    }


STATE_MACHINE_PREFIX = "parkcharge-local-"
ACCOUNT_ID = "123456789012"  # moto's default account
REGION = "us-east-1"


def state_machine_arns() -> dict[str, str]:
    """Every infra/statemachines/*.asl.json machine's ARN on the local stack (moto's account)."""
    from infra import statemachines

    return {
        name: f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{STATE_MACHINE_PREFIX}{name}"
        for name in statemachines.names()
    }


def create_state_machines(endpoint_url: str) -> dict[str, str]:
    """Create every state machine on moto with the same definitions as the CDK stack, its
    `${fn:...}` placeholders naming the app's functions (moto's Lambda forwards the invocations to
    the stack's Lambda endpoint, see motopatch). A machine already there is updated."""
    import boto3

    from infra import statemachines
    from infra.local.runtime import FUNCTION_PREFIX

    client = boto3.client("stepfunctions", endpoint_url=endpoint_url, region_name=REGION)
    role = f"arn:aws:iam::{ACCOUNT_ID}:role/{STATE_MACHINE_PREFIX}workflows"
    made: dict[str, str] = {}
    for name, arn in state_machine_arns().items():
        definition = statemachines.definition_json(
            name, lambda fn: f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION_PREFIX}{fn}"
        )
        try:
            made[name] = client.create_state_machine(
                name=f"{STATE_MACHINE_PREFIX}{name}", definition=definition, roleArn=role
            )["stateMachineArn"]
        except client.exceptions.StateMachineAlreadyExists:
            client.update_state_machine(stateMachineArn=arn, definition=definition, roleArn=role)
            made[name] = arn
        if made[name] != arn:
            raise RuntimeError(f"state machine {name}: {made[name]} is not the expected {arn}")
    return made


def mint_demo_tokens(keys: local_keys.LocalKeys) -> dict[str, str]:
    return {
        "driver": local_keys.mint_token(keys, DEMO_DRIVER, ["driver"]),
        "staff": local_keys.mint_token(keys, DEMO_STAFF, ["staff", "ops_admin"], operator_id=DEMO_OPERATOR),
    }


class LocalStack:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.state_dir = Path(args.state_dir).resolve()
        self._stops: list[tuple[str, Any]] = []
        self._children: list[Any] = []
        self.stopped = threading.Event()

    def _started(self, name: str, stop: Any) -> None:
        self._stops.append((name, stop))

    def child_pids(self) -> list[int]:
        return [pid for pid in (getattr(p, "pid", None) for p in self._children) if pid]

    def start(self) -> StackInfo:
        args = self.args
        t0 = time.monotonic()
        self.state_dir.mkdir(parents=True, exist_ok=True)
        ports = Ports(
            api=_check_free(args.api_port, "api"),
            mqtt=_check_free(args.mqtt_port, "mqtt"),
            moto=_check_free(args.moto_port, "moto"),
            pay=_check_free(args.pay_port, "pay"),
            lambda_=_free_port(),
            wechat=_check_free(args.wechat_port, "wechat"),
            alipay=_check_free(args.alipay_port, "alipay"),
        )
        keys = local_keys.ensure_keys(self.state_dir / "keys")
        provider_keys = local_keys.ensure_provider_keys(self.state_dir / "keys" / "providers")
        # Handlers wait on moto and the broker several times per invocation; each wait ends by
        # taking the GIL back, which the default 5 ms switch interval can delay by up to 5 ms.
        sys.setswitchinterval(SWITCH_INTERVAL)
        certs_dir = self.state_dir / "certs"
        os.environ.update(
            app_environment(ports, keys, args.command_timeout, args.verbose, args.approval_day_seconds)
        )
        lambda_url = f"http://{HOST}:{ports.lambda_}"

        # The child processes first, before any thread exists in this one.
        broker: Broker = create_broker(HOST, ports.mqtt, self.state_dir / "broker", args.broker, certs_dir)
        broker.start()
        self._started(f"broker ({broker.kind})", broker.stop)
        moto = MotoProcess(HOST, ports.moto, self.state_dir / "moto", lambda_url)
        moto.start()
        self._started("moto", moto.stop)
        self._children += [broker, moto]
        create_state_machines(f"http://{HOST}:{ports.moto}")
        tls_dir = certs_dir if broker.tls else None

        if str(PROJECT_ROOT) not in sys.path:
            sys.path.insert(0, str(PROJECT_ROOT))
        import boto3

        from infra.local import runtime

        app_module = runtime.load_app()
        runtime.share_dynamodb_session()
        if tls_dir is not None:
            from infra.local import publisher

            backend = publisher.install(HOST, ports.mqtt, tls_dir)
            self._started("backend publisher", backend.close)
        from chalicelib import tables as models

        models.create_all_tables()
        demo: dict[str, Any] = {}
        if not args.no_demo:
            from infra.local import demo as demo_data

            demo = demo_data.seed(datetime.now(UTC)) or {}
        from infra.local import provider_accounts

        provider_accounts.store_keys(provider_keys, os.environ["AWS_DEFAULT_REGION"])
        if not args.no_demo:
            for kind, site in (("lot", demo.get("lot_id")), ("station", demo.get("station_id"))):
                if site:
                    provider_accounts.name_accounts(
                        kind, site, demo.get("operator_id", DEMO_OPERATOR), datetime.now(UTC)
                    )
        region = os.environ["AWS_DEFAULT_REGION"]
        sqs = boto3.client("sqs", region_name=region)

        from infra.local.events import Scheduler, SqsPoller

        poller = SqsPoller(app_module, sqs, region)
        from infra.local.bridge import RulesBridge, load_rules
        from infra.local.lambda_endpoint import LambdaEndpoint

        endpoint = LambdaEndpoint(app_module, HOST, ports.lambda_, region)
        endpoint.start()
        self._started("lambda endpoint", endpoint.stop)
        bridge = RulesBridge(
            load_rules(PROJECT_ROOT / "iot-rules", app_module),
            HOST,
            ports.mqtt,
            sqs,
            region,
            certs_dir=tls_dir,
            retry_delay=args.retry_delay,
        )
        bridge.start()
        self._started("rules bridge", bridge.stop)
        poller.start()
        self._started("sqs consumers", poller.stop)
        scheduler = Scheduler(app_module, region, speedup=args.schedule_speedup)
        scheduler.start()
        self._started("scheduler", scheduler.stop)

        api = _start_api(app_module, ports.api)
        self._started("http api", api)

        from infra.local.sandbox_provider import SandboxProvider

        pay = SandboxProvider(HOST, ports.pay, f"http://{HOST}:{ports.api}", keys.pay_private)
        pay.start()
        self._started("sandbox payment provider", pay.stop)
        from infra.local.fake_alipay import FakeAlipay, load_app
        from infra.local.fake_wechat import FakeWeChat, load_merchant

        wechat = FakeWeChat(
            load_merchant(
                provider_keys.wechat,
                local_keys.WECHAT_MCHID,
                local_keys.WECHAT_APPID,
                local_keys.WECHAT_MERCHANT_SERIAL,
                local_keys.WECHAT_PUBLIC_KEY_ID,
            ),
            HOST,
            ports.wechat,
        )
        wechat.start()
        self._started("wechat pay fake", wechat.stop)
        alipay = FakeAlipay(
            load_app(provider_keys.alipay, local_keys.ALIPAY_APP_ID, local_keys.ALIPAY_SELLER_ID),
            HOST,
            ports.alipay,
        )
        alipay.start()
        self._started("alipay fake", alipay.stop)

        info = StackInfo(
            api_url=f"http://{HOST}:{ports.api}",
            pay_url=f"http://{HOST}:{ports.pay}",
            wechat_url=wechat.url,
            alipay_url=alipay.gateway_url,
            mqtt_host=HOST,
            mqtt_port=ports.mqtt,
            aws_endpoint_url=f"http://{HOST}:{ports.moto}",
            broker=broker.kind,
            state_dir=str(self.state_dir),
            certs_dir=str(tls_dir) if tls_dir else None,
            lambda_url=lambda_url,
            pids={
                name: pid
                for name, pid in (("stack", os.getpid()), ("moto", moto.pid), ("broker", broker.pid))
                if pid
            },
        )
        tokens = mint_demo_tokens(keys)
        _write_json(self.state_dir / "tokens.json", tokens)
        _write_json(self.state_dir / "stack.json", asdict(info))
        # The app, its dependencies' modules and botocore's service models are here for good: a
        # full garbage collection need not walk them again and again (pauses of tens of ms).
        gc.collect()
        gc.freeze()
        print(quick_start(info, tokens, demo, self.state_dir, time.monotonic() - t0), flush=True)
        return info

    def stop(self) -> None:
        """Everything in this process stops at once (each part bounded, together within
        `STOP_GRACE`); then the backend's publisher (running invocations may still publish);
        then the child processes (moto, the broker), terminated together."""
        stops = list(reversed(self._stops))
        self._stops.clear()
        children = {name for name, stop in stops if getattr(stop, "__self__", None) in self._children}
        late = {name for name, _stop in stops if name in LATE_STOPS}
        phases = [
            [(n, s) for n, s in stops if n not in children and n not in late],
            [(n, s) for n, s in stops if n in late],
            [(n, s) for n, s in stops if n in children],
        ]
        for phase in phases:
            threads = [
                threading.Thread(target=_stop_one, args=(name, stop), name=f"stop-{name}", daemon=True)
                for name, stop in phase
            ]
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + STOP_GRACE
            for thread in threads:
                thread.join(timeout=max(0.0, deadline - time.monotonic()))
        (self.state_dir / "stack.json").unlink(missing_ok=True)
        self.stopped.set()


LATE_STOPS = {"backend publisher"}


def _stop_one(name: str, stop: Any) -> None:
    started = time.monotonic()
    try:
        stop()
    except Exception:
        log.exception("stopping %s failed", name)
    log.debug("stopped %s in %.2f s", name, time.monotonic() - started)


def _gateway_handler(base: Any) -> Any:
    """Answers the local gateway gives before the app runs (an unknown route) in the app's error
    shape, as the CDK stack's gateway responses do in AWS: 404 `{"code": "not_found", ...}`."""

    class GatewayErrors(base):
        # Chalice writes a response's headers and its body in two sends: with Nagle's algorithm
        # a small body waited for the client's delayed ACK of the headers (~40 ms a request).
        disable_nagle_algorithm = True

        def _send_error_response(self, error: Any) -> None:
            if getattr(error, "CODE", None) == 403:  # the local gateway's "missing token": no route
                body = json.dumps({"code": "not_found", "message": "no such route"}).encode()
                self._send_http_response(404, {"Content-Type": "application/json"}, body)
                return
            super()._send_error_response(error)

    return GatewayErrors


def _start_api(app_module: Any, port: int) -> Any:
    """Chalice's local dev server for the app, in this process, like `chalice local`."""
    from chalice.config import Config
    from chalice.local import create_local_server

    config = Config.create(
        chalice_stage="local",
        app_name=app_module.app.app_name,
        project_dir=str(PROJECT_ROOT),
        chalice_app=app_module.app,
        lambda_timeout=60,
        lambda_memory_size=512,
    )
    server = create_local_server(app_module.app, config, HOST, port)
    wrapped = server.server.RequestHandlerClass  # functools.partial(handler class, app, config)
    server.server.RequestHandlerClass = functools.partial(_gateway_handler(wrapped.func), **wrapped.keywords)
    # socketserver listens with a backlog of 5: a burst of concurrent clients (a lot's apps, a
    # provider's notifications) would be reset. Listening again sets the backlog.
    server.server.socket.listen(LISTEN_BACKLOG)
    thread = threading.Thread(target=server.server.serve_forever, name="http-api", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server.server_close()
        thread.join(timeout=10)

    return stop


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.chmod(0o600)
    tmp.replace(path)


def quick_start(
    info: StackInfo, tokens: dict[str, str], demo: dict[str, Any], state_dir: Path, took: float
) -> str:
    try:
        shown_state = state_dir.relative_to(Path.cwd())
    except ValueError:
        shown_state = state_dir
    state_arg = "" if str(shown_state) == ".local" else f" --state-dir {shown_state}"
    scheme = "mqtts" if info.certs_dir else "mqtt"
    mqtt_auth = (
        f"client certificates from {info.certs_dir}" if info.certs_dir else "plain TCP, no certificates"
    )
    demo_lines = "\n".join(f"    {k}: {v}" for k, v in demo.items()) or "    (none)"
    return f"""
parkcharge local stack — up in {took:.1f} s
  HTTP API        {info.api_url}          (try: curl {info.api_url}/v1/health)
  MQTT broker     {scheme}://{info.mqtt_host}:{info.mqtt_port}  ({info.broker}, {mqtt_auth})
  sandbox pay     {info.pay_url}/v1/pay
  WeChat Pay fake {info.wechat_url}   (pay an order: POST /fake/pay)
  Alipay fake     {info.alipay_url}   (pay an order: POST /fake/pay)
  AWS (moto)      {info.aws_endpoint_url}
  state           {shown_state}  (keys, tokens.json, broker log)

  demo data
{demo_lines}

  tokens (also in {shown_state}/tokens.json)
    driver demo-driver:            export DRIVER_TOKEN={tokens["driver"]}
    staff demo-staff (demo-op, ops_admin): export STAFF_TOKEN={tokens["staff"]}
    more: make token ROLE=driver|staff|cashier|customer_service|finance|ops_admin

  try it
    curl -H "Authorization: Bearer $DRIVER_TOKEN" '{info.api_url}/v1/driver/plates'
    curl -H "Authorization: Bearer $STAFF_TOKEN" {info.api_url}/v1/ops/lots/demo-lot
    python -m infra.local.simulator visit --plate 粤B12345{state_arg}
    python -m infra.local.simulator capture --device demo-entry-cam --plate 粤B12345 --direction in{state_arg}

{READY_LINE} (Ctrl-C stops it)
"""


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("infra.local").setLevel(
        logging.DEBUG if os.environ.get("PARKCHARGE_LOCAL_DEBUG") else logging.INFO
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "amqtt", "transitions", "pynamodb"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    stack = LocalStack(args)
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop_requested.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        stack.start()
        while not stop_requested.wait(0.2):
            pass
        print("\nstopping the local stack…", flush=True)
    finally:
        _exit_after(STOP_DEADLINE, stack)
        stack.stop()
    return 0


# Ctrl-C / SIGTERM stop everything within this many seconds, even with a backlog of messages:
# the parts in this process get STOP_GRACE together (invocations already running may finish),
# the child processes are terminated after that, and a watchdog kills what is left at
# STOP_DEADLINE.
STOP_GRACE = 1.5
STOP_DEADLINE = 4.5


def _exit_after(seconds: float, stack: LocalStack) -> None:
    """A watchdog for the stop: whatever is still running after `seconds` is killed, children
    first, and the process exits."""

    def watchdog() -> None:
        if stack.stopped.wait(seconds):
            return
        log.error("the local stack did not stop within %.0f s: killing it", seconds)
        for pid in stack.child_pids():
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        (stack.state_dir / "stack.json").unlink(missing_ok=True)
        os._exit(1)

    threading.Thread(target=watchdog, name="stop-watchdog", daemon=True).start()
