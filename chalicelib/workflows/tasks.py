"""The approval engine's Lambda task handlers, called by the state machines (the approval and
the refund machine both use them). Their input is typed (a workflow input is an edge like any
other); what they decide comes from the app's records (engine.py).

A handler that fails raises: Step Functions sees the exception's class name as the error
(`Unavailable` is retried by the machines; the others end the execution, which `resume` can
start again from the records)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec

from chalicelib.shared.errors import Invalid
from chalicelib.shared.types import Id
from chalicelib.workflows import engine

Level = Annotated[int, msgspec.Meta(ge=0, le=100)]
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class ApprovalRef(msgspec.Struct, kw_only=True):
    approval_id: Id


class LevelRef(msgspec.Struct, kw_only=True):
    approval_id: Id
    level: Level


class WaitIn(msgspec.Struct, kw_only=True):
    approval_id: Id
    level: Level
    token: Token


def _decode(event: Any, model: type[Any]) -> Any:
    """The task's input; unknown fields are ignored (the machines pass what they carry)."""
    try:
        return msgspec.convert(event, type=model, strict=True)
    except msgspec.ValidationError as exc:
        raise Invalid(f"the task input is not valid: {exc}", "invalid_task_input") from exc


def next_step(event: Any, now: datetime) -> dict[str, Any]:
    return engine.next_action(_decode(event, ApprovalRef).approval_id)


def wait(event: Any, now: datetime) -> dict[str, Any]:
    task = _decode(event, WaitIn)
    return engine.wait(task.approval_id, task.level, task.token, now)


def escalate(event: Any, now: datetime) -> dict[str, Any]:
    task = _decode(event, LevelRef)
    return engine.escalate(task.approval_id, task.level, now)


def execute(event: Any, now: datetime) -> dict[str, Any]:
    return engine.execute(_decode(event, ApprovalRef).approval_id, now)
