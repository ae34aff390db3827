"""Integration fixtures: moto-backed DynamoDB with the real tables and demo data, a recorder in
place of the IoT data plane, tokens signed with the test keys, and Chalice's test client."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from chalice.test import Client
from moto import mock_aws

from infra.local.keys import mint_token
from tests.conftest import KEYS


class Recorder:
    """Stands in for the IoT data plane (an AWS service, not our code): keeps what was published."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def publish(self, topic: str, message: dict[str, Any]) -> None:
        self.messages.append((topic, message))

    def commands(self, device_id: str, command: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for t, m in self.messages
            if t == f"parkcharge/gate/{device_id}/down/command"
            and (command is None or m["command"] == command)
        ]

    def errors(self, device_id: str) -> list[dict[str, Any]]:
        return [m for t, m in self.messages if t == f"parkcharge/gate/{device_id}/down/error"]

    def clear(self) -> None:
        self.messages.clear()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        from chalicelib.shared import cache
        from chalicelib.tables import create_all_tables

        create_all_tables()
        cache.reset_all()
        yield
        cache.reset_all()


@pytest.fixture
def demo(aws: None) -> dict[str, str]:
    from infra.local.demo import seed

    return seed(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def published() -> Iterator[Recorder]:
    from chalicelib.platform import downlink

    recorder = Recorder()
    downlink.set_publisher(recorder)
    yield recorder
    downlink.set_publisher(None)


@pytest.fixture
def client(demo: dict[str, str], published: Recorder) -> Iterator[Client]:
    from app import app

    with Client(app) as test_client:
        yield test_client


def token(sub: str, groups: list[str], operator_id: str | None = None) -> str:
    return mint_token(KEYS, sub, groups, operator_id)


def auth(
    sub: str = "demo-driver", groups: list[str] | None = None, operator_id: str | None = None
) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token(sub, groups or ['driver'], operator_id)}",
        "Content-Type": "application/json",
    }


def staff(operator_id: str = "demo-op", sub: str = "demo-staff") -> dict[str, str]:
    return auth(sub, ["staff"], operator_id)


def iot_event(
    device_id: str, kind: str, payload: bytes | dict[str, Any], received_at: int = 0
) -> dict[str, Any]:
    """The event the IoT rule in iot-rules/gate_<kind>.json hands to the function."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
    topic = f"parkcharge/gate/{device_id}/up/{kind}"
    return {
        "payload_b64": base64.b64encode(raw).decode(),
        "topic": topic,
        "topic_device_id": device_id,
        "received_at": received_at,
    }


def capture(device_id: str, direction: str, plate: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "message_id": str(uuid.uuid4()),
        "device_id": device_id,
        "direction": direction,
        "plate": plate,
        "plate_color": 1,
        "vehicle_type": 1,
        "confidence": 95,
    }
    body.update(extra)
    return body
