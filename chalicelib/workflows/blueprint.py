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
