"""The approval engine on moto: the state machines of infra/statemachines created in the test
account (moto records executions here without running them: the tests play the machine's part
by calling the task handlers), their ARNs in the settings the app reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra import statemachines

ACCOUNT = "123456789012"
REGION = "us-east-1"


@pytest.fixture
def machines(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
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


def sfn_client() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)
