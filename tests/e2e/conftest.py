"""The e2e harness: one local stack (`python -m infra.local`) per test session, as a subprocess on
free ports with a temporary state dir, stopped at the end (also when a test fails).

Tests talk to it only as a user would: gate devices over MQTT (the simulator's `GateDevice`,
built on the AWS IoT Device SDK's client) and HTTP (requests). Shared helpers: `support.py`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import requests

from infra.local import certs
from infra.local.keys import LocalKeys
from infra.local.simulator import GateDevice
from tests.e2e.support import (
    COMMAND_TIMEOUT,
    ENTRY_DEVICE,
    ENTRY_LANE,
    EXIT_DEVICE,
    EXIT_LANE,
    ROOT,
    START_TIMEOUT,
    Api,
    Driver,
    Stack,
    new_plate,
)


def _clean_env() -> dict[str, str]:
    """The stack sets what the app needs; nothing from the test process's AWS setup leaks in."""
    prefixes = ("AWS_", "PARKCHARGE_", "POWERTOOLS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _log_tail(log: Path, lines: int = 60) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _mqtt_accepts(host: str, port: int, certs_dir: str | None) -> bool:
    connected: list[bool] = []
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"e2e-probe-{uuid.uuid4().hex[:8]}")
    if certs_dir:
        certs.paho_tls(client, certs.certificate(certs_dir, "e2e-probe"))
    client.on_connect = lambda _c, _u, _f, reason, _p: connected.append(not reason.is_failure)
    try:
        client.connect(host, port, keepalive=10)
        deadline = time.monotonic() + 5
        while not connected and time.monotonic() < deadline:
            client.loop(timeout=0.1)
        client.disconnect()
    except OSError:
        return False
    return connected == [True]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def launch(state: Path, *extra: str) -> tuple[subprocess.Popen[bytes], dict[str, Any]]:
    """Start `python -m infra.local` on free ports with `state` as its state dir; (process, stack.json)."""
    log = state / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "infra.local",
                "--state-dir",
                str(state),
                "--api-port",
                "0",
                "--mqtt-port",
                "0",
                "--moto-port",
                "0",
                "--pay-port",
                "0",
                "--wechat-port",
                "0",
                "--alipay-port",
                "0",
                "--verbose",
                # Unacked commands time out after 2 s and the sweeper runs every 2 s, so the
                # command-tracking test needs no long waits.
                "--command-timeout",
                str(COMMAND_TIMEOUT),
                "--schedule-speedup",
                "30",
                # Failed IoT-invoked functions are retried after 0.2 s and 0.4 s.
                "--retry-delay",
                "0.2",
                # Devices connect with certificates, which only mosquitto checks: the suite
                # needs it. PARKCHARGE_E2E_BROKER=amqtt runs it against the plain fallback broker
                # (the device identity tests skip).
                "--broker",
                os.environ.get("PARKCHARGE_E2E_BROKER", "mosquitto"),
                *extra,
            ],
            cwd=ROOT,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped as a whole, never our signals
        )
    try:
        return proc, _wait_until_ready(proc, state, log)
    except BaseException:
        _stop(proc)
        raise


def as_stack(state: Path, info: dict[str, Any]) -> Stack:
    return Stack(
        api=info["api_url"],
        pay=info["pay_url"],
        mqtt_host=info["mqtt_host"],
        mqtt_port=int(info["mqtt_port"]),
        keys=LocalKeys(state / "keys"),
        log=state / "stack.log",
        certs_dir=Path(info["certs_dir"]) if info.get("certs_dir") else None,
        aws_endpoint_url=info["aws_endpoint_url"],
        pids=dict(info.get("pids") or {}),
        wechat=info.get("wechat_url", ""),
        alipay=info.get("alipay_url", ""),
    )


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    state = tmp_path_factory.mktemp("local-stack")
    proc, info = launch(state)
    try:
        yield as_stack(state, info)
    finally:
        _stop(proc)


def _wait_until_ready(proc: subprocess.Popen[bytes], state: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    info: dict[str, Any] | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the local stack exited with {proc.returncode}:\n{_log_tail(log)}")
        stack_json = state / "stack.json"  # written once every component is up
        if info is None and stack_json.exists():
            with contextlib.suppress(ValueError):
                info = json.loads(stack_json.read_text(encoding="utf-8"))
        if info is not None:
            with contextlib.suppress(requests.RequestException):
                health = requests.get(info["api_url"] + "/v1/health", timeout=2)
                if health.status_code == 200 and _mqtt_accepts(
                    info["mqtt_host"], int(info["mqtt_port"]), info.get("certs_dir")
                ):
                    return info
        time.sleep(0.2)
    pytest.fail(f"the local stack did not answer within {START_TIMEOUT:.0f} s:\n{_log_tail(log)}")


@pytest.fixture(scope="session")
def entry(stack: Stack) -> Iterator[GateDevice]:
    """The demo lot's entry camera (one connection for the session: a client id connects once)."""
    with stack.device(ENTRY_DEVICE, ENTRY_LANE) as device:
        yield device


@pytest.fixture(scope="session")
def exit_gate(stack: Stack) -> Iterator[GateDevice]:
    """The demo lot's exit camera."""
    with stack.device(EXIT_DEVICE, EXIT_LANE) as device:
        yield device


@pytest.fixture
def driver(stack: Stack) -> Driver:
    """A new driver account holding a new plate."""
    sub = f"e2e-driver-{uuid.uuid4().hex[:10]}"
    api = Api(stack.api, stack.token(sub, ["driver"]))
    for _ in range(5):
        plate = new_plate()
        bound = api.post("/v1/driver/plates", {"plate": plate})
        if bound.status_code == 201:
            return Driver(sub, plate, api)
        assert bound.status_code == 409, bound.text  # taken by another account: draw again
    raise AssertionError("could not bind a fresh plate")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failing e2e test shows the end of the stack's log next to its own output."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    running = getattr(item, "funcargs", {}).get("stack")
    if report.when == "call" and report.failed and isinstance(running, Stack):
        report.sections.append(("local stack log (last lines)", _log_tail(running.log)))
