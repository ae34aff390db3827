"""The approval engine's ops routes: the staff inbox, approvals (create, decide, read, resume)
and the flow templates per kind. Staff see only their own operator's approvals (another's
answers 404); deciding a level needs its role or a name on it (403 `not_an_approver`)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
from chalice import Response

from chalicelib.shared.auth import OPS_ADMIN, ROLES, STAFF, Principal
from chalicelib.shared.clock import now
from chalicelib.shared.errors import Invalid
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.timeutil import iso, iso_or_none
from chalicelib.workflows import contract as c
from chalicelib.workflows import engine, kinds, sfn
from chalicelib.workflows.domain import approvals as rules
from chalicelib.workflows.models import Approval, ApprovalInbox

routes = Routes()


def approval_view(approval: Approval) -> dict[str, Any]:
    """An approval with its steps (people, reasons, times) and its execution."""
    steps = engine.history(approval.approval_id)
    arn = approval.execution_arn
    return {
        "approval_id": approval.approval_id,
        "kind": approval.kind,
        "subject": approval.subject,
        "title": approval.title,
        "amount_fen": int(approval.amount_fen) if approval.amount_fen is not None else None,
        "state": approval.state,
        "level": int(approval.level),
        "levels": [{"role": lv.role, "approvers": list(lv.approvers)} for lv in engine.levels_of(approval)],
        "waiting": approval.waiting_token is not None,
        "escalated": bool(approval.escalated),
        "requested_by": approval.requested_by,
        "created_at": iso(approval.created_at),
        "updated_at": iso(approval.updated_at),
        "result": approval.result,
        "execution": {
            "name": approval.execution_name,
            "arn": arn,
            "runs": int(approval.runs),
            "console_url": sfn.console_url(arn) if arn else None,
            "machine": approval.machine,
        },
        "steps": [
            {
                "seq": int(s.seq),
                "kind": s.kind,
                "at": iso(s.at),
                "by": s.by,
                "level": int(s.level) if s.level is not None else None,
                "decision": s.decision,
                "reason": s.reason,
                "comment": s.comment,
                "attachments": list(s.attachments or []),
                "execution_name": s.execution_name,
                "detail": dict(s.detail or {}),
            }
            for s in steps
        ],
    }


def _inbox_item(item: ApprovalInbox) -> dict[str, Any]:
    return {
        "approval_id": item.approval_id,
        "kind": item.kind,
        "title": item.title,
        "subject": item.subject,
        "amount_fen": int(item.amount_fen) if item.amount_fen is not None else None,
        "level": int(item.level),
        "waiting_since": iso(item.since),
        "escalated": bool(item.escalated),
    }


def _flow_view(template: engine.Template) -> dict[str, Any]:
    return {
        "kind": template.kind,
        "levels": [{"role": lv.role, "approvers": list(lv.approvers)} for lv in template.levels],
        "timeout_days": template.timeout_days,
        "executor": template.executor,
        "version": template.version,
        "machine": kinds.kind_of(template.kind).machine,
        "updated_by": template.updated_by,
        "updated_at": iso_or_none(template.updated_at),
    }


@routes.route("/v1/ops/inbox", "GET", response=c.InboxOut, auth=STAFF)
def inbox(request: Any, *, me: Principal) -> Response:
    """What waits for my decision: the levels of my operator's approvals (and refund reviews)
    waiting for a role I hold or for me by name, oldest first."""
    return ok({"items": [_inbox_item(item) for item in engine.inbox(me)]})


@routes.route(
    "/v1/ops/approvals",
    "POST",
    body=c.ApprovalIn,
    response=c.ApprovalOut,
    status=201,
    errors=[404, 409],
    auth=STAFF,
)
def create_approval(request: Any, *, me: Principal, body: c.ApprovalIn) -> Response:
    """Submit an approval of a configured kind (its operator's flow template decides the levels)
    and start its execution, named by the approval id; with `"submit": false`, a draft."""
    if len(json.dumps(body.context, ensure_ascii=False).encode()) > c.MAX_CONTEXT_BYTES:
        raise Invalid(f"context is at most {c.MAX_CONTEXT_BYTES} bytes as JSON", "invalid_context")
    approval = engine.create(
        me,
        kind=body.kind,
        subject=body.subject,
        title=body.title,
        amount_fen=body.amount_fen,
        context=body.context,
        now=now(),
        submit=body.submit,
    )
    return ok(approval_view(approval), 201)


@routes.route(
    "/v1/ops/approvals/{approval_id}/submit",
    "POST",
    body=c.SubmitIn,
    response=c.ApprovalOut,
    errors=[404, 409],
    auth=STAFF,
)
def submit_approval(request: Any, approval_id: str, *, me: Principal) -> Response:
    """Submit a draft (its requester or an ops_admin): it goes to its first level and its
    execution starts. A second submit changes nothing."""
    return ok(approval_view(engine.submit(approval_id, me, now())))


@routes.route(
    "/v1/ops/approvals/{approval_id}",
    "GET",
    response=c.ApprovalOut,
    errors=[404],
    auth=STAFF,
)
def get_approval(request: Any, approval_id: str, *, me: Principal) -> Response:
    """An approval or refund review: its state, every step (who, when, why) and its execution's
    name with where to open it in the console."""
    return ok(approval_view(engine.get_for(approval_id, me.operator)))


@routes.route(
    "/v1/ops/approvals/{approval_id}/decisions",
    "POST",
    body=c.DecisionIn,
    response=c.ApprovalOut,
    errors=[404, 409],
    auth=STAFF,
)
def decide(request: Any, approval_id: str, *, me: Principal, body: c.DecisionIn) -> Response:
    """Approve or reject the waiting level (a reason is required to reject). A second identical
    click changes nothing; a finished approval or another level is 409."""
    approval = engine.decide(
        approval_id,
        me,
        level=body.level,
        decision=body.decision,
        reason=body.reason,
        comment=body.comment,
        attachments=body.attachments,
        now=now(),
    )
    return ok(approval_view(approval))


@routes.route(
    "/v1/ops/approvals/{approval_id}/resume",
    "POST",
    body=c.ResumeIn,
    response=c.ApprovalOut,
    errors=[404, 409],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def resume(request: Any, approval_id: str, *, me: Principal) -> Response:
    """Start a new execution (`{id}.{n}`) from the records when the last one is gone (stopped,
    failed, or lost with a restarted local stack); 409 while it still runs."""
    return ok(approval_view(engine.resume(approval_id, me.operator, now())))


@routes.route("/v1/ops/flows/{kind}", "GET", response=c.FlowOut, errors=[404], auth=STAFF, roles=(OPS_ADMIN,))
def get_flow(request: Any, kind: str, *, me: Principal) -> Response:
    """The operator's flow template for a kind (the kind's default until one is saved)."""
    return ok(_flow_view(engine.template(me.operator, kind)))


@routes.route(
    "/v1/ops/flows/{kind}",
    "PUT",
    body=c.FlowIn,
    response=c.FlowOut,
    errors=[404, 409],
    auth=STAFF,
    roles=(OPS_ADMIN,),
)
def put_flow(request: Any, kind: str, *, me: Principal, body: c.FlowIn) -> Response:
    """Save the operator's flow template for a kind: levels in order (a role and/or named
    approvers each), the days a level waits before it escalates, and the executor. Approvals
    already open keep their levels."""
    levels = rules.levels_of([{"role": lv.role, "approvers": lv.approvers} for lv in body.levels], ROLES)
    template = engine.save_template(
        me.operator,
        kind,
        levels=levels,
        timeout_days=body.timeout_days,
        executor=kinds.kind_of(kind).executor if body.executor is msgspec.UNSET else body.executor,
        by=me.user_id,
        now=now(),
        version=body.version,
    )
    return ok(_flow_view(template))
