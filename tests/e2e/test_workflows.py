"""Step Functions on the local stack: moto executes the state machine definition and its Lambda
task reaches the app's own handler in the stack (the refund workflows will run the same way)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import boto3
import pytest

from tests.e2e.support import EXIT_DEVICE, Stack

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
REGION = "us-east-1"
DEADLINE = 30.0


def _client(stack: Stack, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=stack.aws_endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def test_a_state_machine_with_one_lambda_task_runs_the_apps_handler(stack: Stack) -> None:
    sfn = _client(stack, "stepfunctions")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:parkcharge-local-device_presence"
    definition = {
        "Comment": "one Lambda task: the lifecycle event handler",
        "StartAt": "Presence",
        "States": {
            "Presence": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": function, "Payload.$": "$"},
                "OutputPath": "$.Payload",
                "End": True,
            }
        },
    }
    machine = sfn.create_state_machine(
        name=f"e2e-smoke-{uuid.uuid4().hex[:8]}",
        definition=json.dumps(definition),
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/parkcharge-local-workflows",
    )["stateMachineArn"]
    event = {"eventType": "connected", "clientId": EXIT_DEVICE, "timestamp": int(time.time() * 1000)}
    topic = f"$aws/events/presence/connected/{EXIT_DEVICE}"
    execution = sfn.start_execution(
        stateMachineArn=machine,
        name=f"smoke-{uuid.uuid4().hex[:12]}",  # always named: unnamed executions are all "None"
        input=json.dumps(
            {
                "payload_b64": base64.b64encode(json.dumps(event).encode()).decode(),
                "topic": topic,
                "topic_device_id": EXIT_DEVICE,
                "received_at": int(time.time() * 1000),
            }
        ),
    )["executionArn"]

    deadline = time.monotonic() + DEADLINE
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert described["status"] == "SUCCEEDED", described
    # The app's handler ran (it marked the exit camera online) and its answer is the output.
    assert json.loads(described["output"]) == {"result": "recorded", "online": True}
