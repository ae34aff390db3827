"""The approval engine on moto: the `machines` fixture (tests/integration/conftest.py) creates the
state machines; moto records executions without running them, so the tests play the machine's
part by calling the task handlers."""

from __future__ import annotations

from typing import Any

import boto3

ACCOUNT = "123456789012"
REGION = "us-east-1"


def sfn_client() -> Any:
    return boto3.client("stepfunctions", region_name=REGION)
