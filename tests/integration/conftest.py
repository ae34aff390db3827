"""Integration fixtures: moto-backed DynamoDB with the real tables and demo data, a recorder in
place of the IoT data plane, and Chalice's test client. Fakes, builders and tokens: tests/support.

moto is started once per session and every table created once (`aws_session`); each test starts
from empty tables, empty caches and no publisher (`aws`). A test needing a fresh AWS account
beyond DynamoDB (queues, topics, state machines) must create what it uses under its own names or
use its own `mock_aws()`. A hypothesis test here gets the fixtures once for all its examples: it
calls `tests.support.aws.empty_tables()` (and `cache.reset_all()`) at the start of each example."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from chalice.test import Client
from moto import mock_aws

from infra import statemachines
from tests.support.aws import empty_tables
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth, staff, token

# The helpers live in tests/support; importing them from here keeps working.
__all__ = ["Recorder", "auth", "capture", "iot_event", "staff", "token"]

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture(scope="session")
def aws_session() -> Iterator[Any]:
    """One moto for the whole run, with the tables of chalicelib.tables.ALL_MODELS. The DynamoDB
    client that empties them between tests."""
    with mock_aws():
        import boto3

        from chalicelib.shared.settings import get_settings
        from chalicelib.tables import create_all_tables

        create_all_tables()
        yield boto3.client("dynamodb", region_name=get_settings().region)


@pytest.fixture
def aws(aws_session: Any) -> Iterator[None]:
    """Empty tables, caches and publisher: each test sees what a new container on a new account sees."""
    from chalicelib.platform import downlink
    from chalicelib.shared import cache

    empty_tables(aws_session)
    cache.reset_all()
    downlink.set_publisher(None)
    yield
    cache.reset_all()
    downlink.set_publisher(None)


@pytest.fixture
def demo(aws: None) -> dict[str, str]:
    from infra.local.demo import seed

    return seed(datetime(2026, 11, 1, tzinfo=UTC))


@pytest.fixture
def machines(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The state machines of infra/statemachines created in the test account under this test's
    names (moto records their executions without running them), their ARNs in the settings."""
    from chalicelib.shared.settings import get_settings, state_machine_env
    from chalicelib.workflows import sfn

    client = boto3.client("stepfunctions", region_name=REGION)
    arns: dict[str, str] = {}
    suffix = uuid.uuid4().hex[:8]
    for name in statemachines.names():
        definition = statemachines.definition_json(
            name, lambda fn: f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:parkcharge-test-{fn}"
        )
        arns[name] = client.create_state_machine(
            name=f"parkcharge-test-{name}-{suffix}",
            definition=definition,
            roleArn=f"arn:aws:iam::{ACCOUNT}:role/parkcharge-test-workflows",
        )["stateMachineArn"]
        monkeypatch.setenv(state_machine_env(name), arns[name])
    get_settings.cache_clear()
    sfn.reset()
    yield arns
    monkeypatch.undo()
    get_settings.cache_clear()
    sfn.reset()


@pytest.fixture
def published(aws: None) -> Iterator[Recorder]:
    """What the app publishes to devices (after `aws`, which resets the publisher)."""
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
