"""Integration fixtures: moto-backed DynamoDB with the real tables and demo data, a recorder in
place of the IoT data plane, and Chalice's test client. Fakes, builders and tokens: tests/support."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from chalice.test import Client
from moto import mock_aws

from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth, staff, token

# The helpers live in tests/support; importing them from here keeps working.
__all__ = ["Recorder", "auth", "capture", "iot_event", "staff", "token"]


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
