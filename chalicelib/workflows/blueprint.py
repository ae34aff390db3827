"""The workflows' blueprint: the ops routes of approvals (and refunds), and the task functions
the state machines invoke (infra/statemachines/*.asl.json name them as `${fn:<name>}`)."""

from __future__ import annotations

from typing import Any

from chalice import Blueprint

from chalicelib.shared import http
from chalicelib.shared.clock import now
from chalicelib.shared.observability import logger, metrics, metrics_flushed, tracer
from chalicelib.workflows import api, tasks

bp = Blueprint(__name__)
http.register(bp, api.routes)


@bp.lambda_function(name="workflow_next")
@tracer.capture_lambda_handler
def workflow_next(event: Any, context: Any) -> dict[str, Any]:
    return tasks.next_step(event, now())


@bp.lambda_function(name="workflow_wait")
@tracer.capture_lambda_handler
def workflow_wait(event: Any, context: Any) -> dict[str, Any]:
    return tasks.wait(event, now())


@bp.lambda_function(name="workflow_escalate")
@tracer.capture_lambda_handler
def workflow_escalate(event: Any, context: Any) -> dict[str, Any]:
    result = tasks.escalate(event, now())
    with metrics_flushed():
        # 0 when the level was decided meanwhile: the alarm counts real escalations (Sum)
        metrics.add_metric(
            name="ApprovalEscalations", unit="Count", value=1 if result.get("escalated") else 0
        )
    return result


@bp.lambda_function(name="workflow_execute")
@tracer.capture_lambda_handler
def workflow_execute(event: Any, context: Any) -> dict[str, Any]:
    result = tasks.execute(event, now())
    logger.info("approval executed", extra={"approval_id": result.get("approval_id")})
    return result


# --- refunds (the refund machine's own tasks, routes and the overpayment sweep) ---------------

from chalice import Rate  # noqa: E402

from chalicelib.workflows import refund_api, refund_callbacks, refund_tasks  # noqa: E402

http.register(bp, refund_api.routes)
http.register(bp, refund_callbacks.routes)


@bp.lambda_function(name="refund_pay")
@tracer.capture_lambda_handler
def refund_pay(event: Any, context: Any) -> dict[str, Any]:
    result = refund_tasks.pay(event, now())
    logger.info("refund paid", extra={"refund_id": result.get("refund_id")})
    return result


@bp.lambda_function(name="refund_failed")
@tracer.capture_lambda_handler
def refund_failed(event: Any, context: Any) -> dict[str, Any]:
    with metrics_flushed():  # RefundsFailed, alarmed
        return refund_tasks.failed(event, now())


@bp.lambda_function(name="refund_rejected")
@tracer.capture_lambda_handler
def refund_rejected(event: Any, context: Any) -> dict[str, Any]:
    return refund_tasks.rejected(event, now())


@bp.lambda_function(name="refund_notify")
@tracer.capture_lambda_handler
def refund_notify(event: Any, context: Any) -> dict[str, Any]:
    return refund_tasks.notify(event, now())


@bp.schedule(Rate(1, unit=Rate.MINUTES))
def refund_overpayments(event: Any) -> None:
    counts = refund_tasks.sweep(now())
    if counts.get("opened"):
        logger.info("overpayment refunds opened", extra=counts)
