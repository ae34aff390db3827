"""The refund machine's own Lambda task handlers (infra/statemachines/refund.asl.json): pay the
approved refund, mark it failed when the provider kept failing, release a rejected one, and notify
the requester. The reviews before them are the approval engine's tasks (workflow_next / wait).

Each is idempotent (a retried task finds the work done and answers the same) and raises to fail:
Step Functions sees the exception's class name as the error. `ProviderUnavailable` is retried with
back-off by the machine; anything else from `refund_pay` ends in `refund_failed`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec

from chalicelib.shared.errors import Invalid
from chalicelib.shared.types import Id
from chalicelib.workflows import refunds
from chalicelib.workflows.refund_models import Refund


class RefundRef(msgspec.Struct, kw_only=True):
    approval_id: Id  # the refund's id (its approval's)


class FailedIn(msgspec.Struct, kw_only=True):
    approval_id: Id
    error: dict[str, Any] = msgspec.field(default_factory=dict)  # Step Functions' {"Error", "Cause"}


def _decode(event: Any, model: type[Any]) -> Any:
    try:
        return msgspec.convert(event, type=model, strict=True)
    except msgspec.ValidationError as exc:
        raise Invalid(f"the task input is not valid: {exc}", "invalid_task_input") from exc


def _out(refund: Refund) -> dict[str, Any]:
    return {
        "approval_id": refund.refund_id,
        "refund_id": refund.refund_id,
        "status": refund.status,
        "amount_fen": int(refund.amount_fen),
        "refunded_fen": int(refund.refunded_fen or 0),
    }


def pay(event: Any, now: datetime) -> dict[str, Any]:
    return _out(refunds.pay(_decode(event, RefundRef).approval_id, now))


def failed(event: Any, now: datetime) -> dict[str, Any]:
    task = _decode(event, FailedIn)
    error = f"{task.error.get('Error', 'error')}: {task.error.get('Cause', '')}"[:500]
    return _out(refunds.fail(task.approval_id, now, error))


def rejected(event: Any, now: datetime) -> dict[str, Any]:
    refund_id = _decode(event, RefundRef).approval_id
    reason, by = refunds.rejection_of(refund_id)
    return _out(refunds.reject(refund_id, now, reason, by))


def notify(event: Any, now: datetime) -> dict[str, Any]:
    return _out(refunds.notify(_decode(event, RefundRef).approval_id, now))


def sweep(now: datetime) -> dict[str, int]:
    return refunds.sweep_overpayments(now)
