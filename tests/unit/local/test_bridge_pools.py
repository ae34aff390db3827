"""The local rules bridge invokes each function on its own pool, as Lambda gives each function its
own concurrency: a function with reserved concurrency never runs more invocations at once than
the CDK stack reserves for it, and its backlog does not hold up the other functions."""

from __future__ import annotations

import threading
import time

from infra.functions import RESERVED_CONCURRENCY
from infra.local.bridge import RulesBridge


def test_reserved_concurrency_bounds_a_function_and_the_others_run_beside_it() -> None:
    bridge = RulesBridge([], "127.0.0.1", 1883, sqs_client=None, region="us-east-1", workers=8)
    running = {"gate_ack": 0, "gate_capture": 0}
    most = dict(running)
    lock = threading.Lock()
    release = threading.Event()
    captured = threading.Event()

    def work(function: str) -> None:
        with lock:
            running[function] += 1
            most[function] = max(most[function], running[function])
        if function == "gate_capture":
            captured.set()
        else:
            release.wait(5)
        with lock:
            running[function] -= 1

    try:
        for _ in range(10):
            bridge._submit("gate_ack", work, "gate_ack")
        bridge._submit("gate_capture", work, "gate_capture")
        assert captured.wait(5)  # the capture ran although ten acks were waiting
        deadline = time.monotonic() + 2
        while most["gate_ack"] < RESERVED_CONCURRENCY["gate_ack"] and time.monotonic() < deadline:
            time.sleep(0.01)
        assert most["gate_ack"] == RESERVED_CONCURRENCY["gate_ack"] == bridge.concurrency("gate_ack")
        assert bridge.concurrency("gate_capture") == 8
    finally:
        release.set()
        bridge.stop(timeout=2)
