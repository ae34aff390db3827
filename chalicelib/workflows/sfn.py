"""The Step Functions client of the workflows: start an execution under a given name, answer a
waiting task, describe and stop an execution. The client reaches AWS, or the local stack's moto
through AWS_ENDPOINT_URL, as every AWS client of the app does.

Errors a caller acts on are translated: a name taken (`AlreadyStarted`), a task token that no
execution waits on any more (`TokenDead`), a machine that is not configured (`Unavailable`)."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from chalicelib.shared.errors import Unavailable
from chalicelib.shared.settings import get_settings

# What SendTaskSuccess answers when nothing waits on the token any more: the execution ended
# (stopped, failed, timed out) or the token is not one.
DEAD_TOKEN_CODES = frozenset({"TaskDoesNotExist", "InvalidToken", "TaskTimedOut"})
MISSING_EXECUTION_CODES = frozenset({"ExecutionDoesNotExist", "StateMachineDoesNotExist"})
RUNNING = "RUNNING"

_lock = threading.Lock()
_client: list[Any] = []


class AlreadyStarted(Exception):
    """An execution of that name exists (started before: StartExecution is not repeated)."""


class TokenDead(Exception):
    """No execution waits on this task token any more."""


@dataclass(frozen=True)
class Execution:
    name: str
    arn: str
    status: str | None  # RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED; None: no such execution


def client() -> Any:
    """One client per container (created on first use, not at cold start)."""
    with _lock:
        if not _client:
            import boto3

            _client.append(boto3.client("stepfunctions", region_name=get_settings().region))
        return _client[0]


def reset() -> None:
    with _lock:
        _client.clear()


def machine_arn(machine: str) -> str:
    arn = get_settings().state_machine_arn(machine)
    if not arn:
        raise Unavailable(f"the {machine} state machine is not configured", "workflow_unavailable")
    return arn


def execution_arn(machine: str, name: str) -> str:
    """An execution's ARN from its machine's and its name (arn:…:stateMachine:M → arn:…:execution:M:name)."""
    return f"{machine_arn(machine).replace(':stateMachine:', ':execution:', 1)}:{name}"


def _code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def start_execution(machine: str, name: str, payload: dict[str, Any]) -> str:
    """Start `machine` under `name`; its ARN. A name already used raises AlreadyStarted (the
    same name and input while it runs is answered with the running execution, as AWS does)."""
    from botocore.exceptions import ClientError

    try:
        answer = client().start_execution(
            stateMachineArn=machine_arn(machine), name=name, input=json.dumps(payload, sort_keys=True)
        )
    except ClientError as error:
        if _code(error) == "ExecutionAlreadyExists":
            raise AlreadyStarted(name) from error
        raise
    return str(answer["executionArn"])


def send_task_success(token: str, output: dict[str, Any]) -> None:
    from botocore.exceptions import ClientError

    try:
        client().send_task_success(taskToken=token, output=json.dumps(output, sort_keys=True))
    except ClientError as error:
        if _code(error) in DEAD_TOKEN_CODES:
            raise TokenDead(_code(error)) from error
        raise


def send_task_failure(token: str, error: str, cause: str) -> None:
    from botocore.exceptions import ClientError

    try:
        client().send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768])
    except ClientError as failure:
        if _code(failure) in DEAD_TOKEN_CODES:
            raise TokenDead(_code(failure)) from failure
        raise


def describe(arn: str) -> Execution:
    """The execution's status; status None when there is no such execution (a local stack
    restarted: moto forgot it)."""
    from botocore.exceptions import ClientError

    name = arn.rsplit(":", 1)[-1]
    try:
        answer = client().describe_execution(executionArn=arn)
    except ClientError as error:
        if _code(error) in MISSING_EXECUTION_CODES:
            return Execution(name, arn, None)
        raise
    return Execution(str(answer.get("name") or name), arn, str(answer["status"]))


def console_url(arn: str) -> str:
    """Where ops open the execution in the AWS console."""
    region = arn.split(":")[3] if arn.count(":") >= 3 else get_settings().region
    return f"https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{arn}"
