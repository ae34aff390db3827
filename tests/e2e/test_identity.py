"""Device identity like IoT Core: every device connects with its own certificate, and the broker
lets it publish only on its own up topics and read only its own down topics. A device speaking
on another device's topic is refused by the broker: no handler runs, the other barrier gets
nothing."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from awscrt import mqtt

from infra.local.simulator import GateDevice, connection, device_time, topic
from tests.e2e.support import ENTRY_DEVICE, ENTRY_LANE, Driver, Stack

pytestmark = pytest.mark.e2e

QUIET_SECONDS = 2.0


@pytest.fixture
def certs_required(stack: Stack) -> None:
    if stack.certs_dir is None:
        pytest.skip("the amqtt fallback broker runs without certificates (device identity needs mosquitto)")


def _capture(plate: str) -> dict[str, Any]:
    return {
        "message_id": str(uuid.uuid4()),
        "device_id": ENTRY_DEVICE,
        "lane_id": ENTRY_LANE,
        "direction": "in",
        "plate": plate,
        "plate_color": 1,
        "vehicle_type": 1,
        "confidence": 96,
        "device_time": device_time(),
    }


def test_a_device_cannot_publish_on_another_devices_topic_nor_read_its_commands(
    certs_required: None, stack: Stack, entry: GateDevice, driver: Driver
) -> None:
    assert stack.certs_dir is not None
    intruder_id = f"e2e-intruder-{uuid.uuid4().hex[:8]}"  # a thing with its own valid certificate
    received: list[str] = []
    lock = threading.Lock()

    def on_message(topic: str, payload: bytes, **_kwargs: Any) -> None:
        with lock:
            received.append(topic)

    intruder = connection(intruder_id, stack.mqtt_host, stack.mqtt_port, stack.certs_dir)
    intruder.connect().result(10)
    try:
        # It may ask for the entry camera's commands: the broker never delivers them.
        future, _ = intruder.subscribe(
            topic(ENTRY_DEVICE, "down", "#"), mqtt.QoS.AT_LEAST_ONCE, callback=on_message
        )
        future.result(10)

        since = entry.mark()
        future, _ = intruder.publish(
            topic(ENTRY_DEVICE, "up", "capture"),
            json.dumps(_capture(driver.plate), ensure_ascii=False).encode(),
            mqtt.QoS.AT_LEAST_ONCE,
        )
        future.result(10)  # MQTT 3.1.1 acknowledges a publish the ACL refused, and drops it
        time.sleep(QUIET_SECONDS)
        assert entry.received[since:] == []  # no handler ran: the entry barrier got nothing
        assert driver.api.get("/v1/driver/visits", plate=driver.plate).json()["visits"] == []

        # The same capture from the entry camera itself is served, and only the camera sees it.
        since = entry.mark()
        entry.publish("capture", _capture(driver.plate))
        opened = entry.wait_for("command", lambda b: b.get("command") == "open_gate", since=since)
        assert opened["device_id"] == ENTRY_DEVICE
        [visit] = driver.api.get("/v1/driver/visits", plate=driver.plate).json()["visits"]
        assert visit["visit_id"] == opened["visit_id"]
        time.sleep(0.3)
        with lock:
            assert received == []
    finally:
        intruder.disconnect().result(10)


def test_a_client_without_a_certificate_is_refused(certs_required: None, stack: Stack) -> None:
    plain = connection(f"e2e-anonymous-{uuid.uuid4().hex[:8]}", stack.mqtt_host, stack.mqtt_port)
    with pytest.raises(Exception):  # noqa: B017 - awscrt raises its own error types
        plain.connect().result(10)
