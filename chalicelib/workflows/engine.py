"""The approval engine's use cases: open an approval (in the caller's transaction), start its
execution, the task functions' work (next, wait, escalate, execute), decisions, resume, the
inbox, history and flow templates.

The app's records are the source of truth. The execution asks them what to do next
(`next_action`), a waiting level's task token is stored on the approval (`wait`), and a decision
is written first (a conditional transaction) and then sent to the waiting execution. When no
execution waits on the token any more, the decision is undone by a `reverted` step and the
caller gets 409 `execution_finished`: the records never hold a decision no execution received,
and `resume` starts a new execution from them (docs/workflows.md)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.shared.auth import OPS_ADMIN, ROLES, Principal
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Forbidden, NotFound, Unavailable
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.observability import logger
from chalicelib.shared.settings import get_settings
from chalicelib.workflows import kinds, sfn
from chalicelib.workflows.domain import approvals as rules
from chalicelib.workflows.domain.approvals import Level
from chalicelib.workflows.models import Approval, ApprovalInbox, ApprovalStep, FlowTemplate

__all__ = ["Level", "get", "history", "open_in", "start", "start_again"]

ATTEMPTS = 5  # a step's write races another step of the same approval: read again and retry

WAIT, APPROVED, REJECTED = "wait", rules.APPROVED, rules.REJECTED


# --- reading -----------------------------------------------------------------------------------


def _missing() -> NotFound:
    return NotFound("no such approval", "approval_not_found")


def get(approval_id: str, consistent: bool = True) -> Approval:
    approval = get_or_none(Approval, approval_id, consistent=consistent)
    if approval is None:
        raise _missing()
    return approval


def get_for(approval_id: str, operator_id: str) -> Approval:
    """The approval when it belongs to `operator_id`; another operator's looks like none."""
    approval = get_or_none(Approval, approval_id, consistent=True)
    if approval is None or approval.operator_id != operator_id:
        raise _missing()
    return approval


def history(approval_id: str) -> list[ApprovalStep]:
    return list(ApprovalStep.query(approval_id, consistent_read=True))


def levels_of(approval: Approval) -> tuple[Level, ...]:
    return rules.levels_of(approval.levels, ROLES)


def _decisions(steps: Sequence[ApprovalStep]) -> tuple[rules.Decision, ...]:
    """The decisions that stand: recorded and not reverted."""
    reverted = {int(s.detail.get("seq", -1)) for s in steps if s.kind == "reverted"}
    return tuple(
        rules.Decision(
            int(s.level or 0),
            str(s.decision),
            str(s.by),
            s.at,
            s.reason,
            s.comment,
            tuple(s.attachments or ()),
        )
        for s in steps
        if s.kind == "decision" and int(s.seq) not in reverted
    )


def flow_of(approval: Approval, steps: Sequence[ApprovalStep]) -> rules.Flow:
    return rules.Flow(approval.state, levels_of(approval), int(approval.level), _decisions(steps))


def timeout_seconds(approval: Approval) -> int:
    """How long a level waits before it escalates: the template's days."""
    return int(approval.timeout_days) * get_settings().approval_day_seconds


# --- flow templates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    kind: str
    levels: tuple[Level, ...]
    timeout_days: int
    executor: str | None
    version: int  # 0: the kind's default (no template saved)
    updated_by: str | None = None
    updated_at: datetime | None = None


def template(operator_id: str, kind: str) -> Template:
    spec = kinds.kind_of(kind)
    saved = get_or_none(FlowTemplate, operator_id, kind)
    if saved is None:
        return Template(kind, spec.levels, spec.timeout_days, spec.executor, 0)
    return Template(
        kind,
        rules.levels_of(saved.levels, ROLES),
        int(saved.timeout_days),
        saved.executor,
        int(saved.version),
        saved.updated_by,
        saved.updated_at,
    )


def save_template(
    operator_id: str,
    kind: str,
    *,
    levels: Sequence[Level],
    timeout_days: int,
    executor: str | None,
    by: str,
    now: datetime,
    version: int | None = None,
) -> Template:
    """Save the operator's template for `kind`; with `version`, only over that version (0: none
    saved yet). Approvals in flight keep the levels they were opened with."""
    kinds.kind_of(kind)
    if executor is not None and executor not in kinds.ACTIONS:
        raise Conflict(
            f"no action {executor!r}; one of {', '.join(sorted(kinds.ACTIONS))}", "unknown_executor"
        )
    if len(levels) > rules.MAX_LEVELS:
        raise Conflict(f"at most {rules.MAX_LEVELS} levels", "invalid_levels")
    rules.timeout_days(timeout_days)
    current = get_or_none(FlowTemplate, operator_id, kind, consistent=True)
    have = int(current.version) if current is not None else 0
    if version is not None and version != have:
        raise Conflict(f"the template is at version {have}, not {version}", "version_conflict")
    item = FlowTemplate(
        operator_id,
        kind,
        levels=[level.to_dict() for level in levels],
        timeout_days=timeout_days,
        executor=executor,
        version=have + 1,
        updated_by=by,
        updated_at=now,
    )
    condition = (
        FlowTemplate.operator_id.does_not_exist() if current is None else (FlowTemplate.version == have)
    )
    try:
        item.save(condition=condition)
    except PutError as error:
        if error.cause_response_code == "ConditionalCheckFailedException":
            raise Conflict(
                "the template changed meanwhile; read it and try again", "version_conflict"
            ) from error
        raise
    return template(operator_id, kind)


# --- opening and starting ----------------------------------------------------------------------


def _step(approval_id: str, seq: int, kind: str, now: datetime, **fields: Any) -> ApprovalStep:
    return ApprovalStep(approval_id, seq, kind=kind, at=now, **fields)


def _put_step(tx: TransactWrite, step: ApprovalStep) -> None:
    tx.save(step, condition=ApprovalStep.seq.does_not_exist())


def open_in(
    tx: TransactWrite,
    *,
    approval_id: str,
    kind: str,
    operator_id: str,
    subject: str,
    title: str,
    requested_by: str,
    levels: Sequence[Level] | None,
    amount_fen: int | None,
    context: dict[str, Any],
    machine: str,
    now: datetime,
    submit: bool = True,
) -> Approval:
    """Put a new approval in the caller's transaction (conditional on its id being new): submitted
    (`in_progress`, or `approved` at once without levels) or a draft. `levels=None`: the
    operator's template for `kind` (or the kind's default). Start it after the commit."""
    if machine not in kinds.MACHINES:
        raise ValueError(f"machine must be one of {kinds.MACHINES}")
    flow_template = template(operator_id, kind)
    chosen = tuple(levels) if levels is not None else flow_template.levels
    flow = rules.opened(chosen, submit=submit)
    approval = Approval(
        approval_id,
        kind=kind,
        operator_id=operator_id,
        subject=subject,
        title=title,
        amount_fen=amount_fen,
        state=flow.state,
        levels=[level.to_dict() for level in flow.levels],
        level=0,
        timeout_days=flow_template.timeout_days,
        executor=flow_template.executor,
        context=context,
        machine=machine,
        requested_by=requested_by,
        steps=1,
        created_at=now,
        updated_at=now,
    )
    tx.save(approval, condition=Approval.approval_id.does_not_exist())
    _put_step(
        tx,
        _step(
            approval_id,
            0,
            "submitted" if submit else "drafted",
            now,
            by=requested_by,
            detail={"levels": approval.levels, "state": flow.state},
        ),
    )
    return approval


def execution_name(approval_id: str, run: int) -> str:
    """Run 0 is named by the approval id; a resume n by `{id}.{n}` (names are never reused)."""
    return approval_id if run == 0 else f"{approval_id}.{run}"


def start(approval_id: str, now: datetime) -> str | None:
    """After the caller's commit: start the approval's execution, named by its id, and record
    it. Idempotent: an approval already started answers its execution's name (an execution of
    that name found in Step Functions is recorded as is). A failure to start is logged and
    leaves the approval resumable; the name, or None."""
    approval = get(approval_id)
    if int(approval.runs) > 0:
        return approval.execution_name
    return _start_run(approval_id, now)


def start_again(approval_id: str, now: datetime) -> str | None:
    """Start the next run (`{id}.{n}`) of an approval whose last execution has ended, whatever its
    state: the refund machine's retry of a refund that failed after its approval (finance retries
    it, POST /v1/ops/refunds/{id}/retry). The name, or None when it did not start."""
    return _start_run(approval_id, now)


def _start_run(approval_id: str, now: datetime) -> str | None:
    """Start the next run (`{id}` first, `{id}.{n}` for the n-th resume) and record it."""
    for _ in range(ATTEMPTS):
        approval = get(approval_id)
        if approval.state == rules.DRAFT:
            raise Conflict("the approval is a draft: submit it first", "approval_not_submitted")
        run = int(approval.runs)
        name = execution_name(approval_id, run)
        try:
            arn = sfn.start_execution(approval.machine, name, {"approval_id": approval_id})
        except sfn.AlreadyStarted:
            arn = sfn.execution_arn(approval.machine, name)
        except Exception:
            logger.exception("the approval's execution did not start", extra={"approval_id": approval_id})
            return None
        seq = int(approval.steps)
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.runs.set(run + 1),
                        Approval.execution_name.set(name),
                        Approval.execution_arn.set(arn),
                        Approval.steps.set(seq + 1),
                        Approval.updated_at.set(now),
                    ],
                    condition=(Approval.runs == run) & (Approval.steps == seq),
                )
                _put_step(tx, _step(approval_id, seq, "started", now, execution_name=name))
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            if int(get(approval_id).runs) > run:
                return name  # recorded by a concurrent start of the same run
            continue
        return name
    raise Unavailable("the approval is changing; try again", "approval_busy")


def create(
    me: Principal,
    *,
    kind: str,
    subject: str,
    title: str,
    amount_fen: int | None,
    context: dict[str, Any],
    now: datetime,
    submit: bool = True,
) -> Approval:
    """A staff member's approval of a kind that runs on the generic machine: submitted and
    started, or kept as a draft until `submit`."""
    spec = kinds.kind_of(kind)
    if spec.machine != kinds.APPROVAL_MACHINE:
        raise Conflict(f"a {kind} approval is opened by its own workflow, not directly", "kind_not_direct")
    approval_id = sortable_id("ap", now)
    with transaction() as tx:
        open_in(
            tx,
            approval_id=approval_id,
            kind=kind,
            operator_id=me.operator,
            subject=subject,
            title=title,
            requested_by=me.user_id,
            levels=None,
            amount_fen=amount_fen,
            context=context,
            machine=spec.machine,
            now=now,
            submit=submit,
        )
    if submit:
        start(approval_id, now)
    return get(approval_id)


def submit(approval_id: str, me: Principal, now: datetime) -> Approval:
    """Submit a draft (its requester, or an ops_admin) and start its execution. Submitting one
    already submitted changes nothing (a repeated click); its execution is started if it was not."""
    for _ in range(ATTEMPTS):
        approval = get_for(approval_id, me.operator)
        if approval.requested_by != me.user_id and not me.has_role(OPS_ADMIN):
            raise Forbidden("only its requester or an ops_admin submits a draft", "not_the_requester")
        if approval.state != rules.DRAFT:
            start(approval_id, now)
            return get(approval_id)
        flow = rules.submitted(rules.Flow(approval.state, levels_of(approval)))
        seq = int(approval.steps)
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.state.set(flow.state),
                        Approval.steps.set(seq + 1),
                        Approval.updated_at.set(now),
                    ],
                    condition=(Approval.state == rules.DRAFT) & (Approval.steps == seq),
                )
                _put_step(
                    tx, _step(approval_id, seq, "submitted", now, by=me.user_id, detail={"state": flow.state})
                )
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            continue
        start(approval_id, now)
        return get(approval_id)
    raise Unavailable("the approval is changing; try again", "approval_busy")


# --- the task functions' work --------------------------------------------------------------------


def next_action(approval_id: str) -> dict[str, Any]:
    """What the execution does next, read from the records."""
    approval = get(approval_id)
    if approval.state == rules.IN_PROGRESS:
        action = WAIT
    elif approval.state in (rules.APPROVED, rules.REJECTED):
        action = approval.state
    else:
        raise Conflict(f"the approval is {approval.state}", "approval_not_submitted")
    return {
        "approval_id": approval_id,
        "action": action,
        "level": int(approval.level),
        "timeout_seconds": timeout_seconds(approval),
    }


def _inbox_items(approval: Approval, level: int, now: datetime, escalated: bool) -> Iterator[ApprovalInbox]:
    for key in levels_of(approval)[level].inbox_keys(approval.operator_id):
        yield ApprovalInbox(
            key,
            approval.approval_id,
            operator_id=approval.operator_id,
            kind=approval.kind,
            title=approval.title,
            subject=approval.subject,
            amount_fen=approval.amount_fen,
            level=level,
            since=now,
            escalated=escalated,
        )


def _decision_output(step: ApprovalStep) -> dict[str, Any]:
    return {"decision": step.decision, "by": step.by, "reason": step.reason, "level": int(step.level or 0)}


def wait(approval_id: str, level: int, token: str, now: datetime) -> dict[str, Any]:
    """The wait task: store the token on the waiting level and list it in the inboxes. When the
    level was decided meanwhile (a decision whose answer to the execution was lost), the
    decision is sent on this token at once."""
    approval = get(approval_id)
    if approval.state == rules.IN_PROGRESS and int(approval.level) == level:
        since = approval.waiting_since if approval.waiting_level == level else None
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.waiting_token.set(token),
                        Approval.waiting_level.set(level),
                        Approval.waiting_since.set(since or now),
                        Approval.updated_at.set(now),
                    ],
                    condition=(Approval.state == rules.IN_PROGRESS) & (Approval.level == level),
                )
                for item in _inbox_items(approval, level, since or now, bool(approval.escalated)):
                    tx.save(item)
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            return wait(approval_id, level, token, now)  # decided meanwhile: answered below
        return {"approval_id": approval_id, "level": level, "waiting": True}
    steps = history(approval_id)
    standing = {s.seq for s in steps if s.kind == "decision"} - {
        int(s.detail.get("seq", -1)) for s in steps if s.kind == "reverted"
    }
    decided = [s for s in steps if s.seq in standing and int(s.level or 0) == level]
    if decided:
        sfn.send_task_success(token, _decision_output(decided[-1]))
        return {"approval_id": approval_id, "level": level, "waiting": False, "answered": True}
    sfn.send_task_failure(
        token, "ApprovalNotWaiting", f"{approval_id} is {approval.state} at level {approval.level}"
    )
    return {"approval_id": approval_id, "level": level, "waiting": False, "answered": False}


def escalate(approval_id: str, level: int, now: datetime) -> dict[str, Any]:
    """The wait timed out: the approval is escalated (a step; its inbox entries say so; a metric
    that raises an alarm), and the execution waits again."""
    for _ in range(ATTEMPTS):
        approval = get(approval_id)
        if approval.state != rules.IN_PROGRESS or int(approval.level) != level:
            return {"approval_id": approval_id, "level": level, "escalated": False}
        seq = int(approval.steps)
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.escalated.set(True),
                        Approval.escalations.add(1),
                        Approval.steps.set(seq + 1),
                        Approval.updated_at.set(now),
                    ],
                    condition=(Approval.steps == seq) & (Approval.level == level),
                )
                _put_step(tx, _step(approval_id, seq, "escalated", now, level=level))
                if approval.waiting_level == level:  # the inbox entries say so at once
                    for item in _inbox_items(approval, level, approval.waiting_since or now, True):
                        tx.save(item)
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            continue
        logger.warning(
            "an approval waited past its timeout",
            extra={"approval_id": approval_id, "level": level, "operator_id": approval.operator_id},
        )
        return {"approval_id": approval_id, "level": level, "escalated": True}
    raise Unavailable("the approval is changing; try again", "approval_busy")


def execute(approval_id: str, now: datetime) -> dict[str, Any]:
    """The approved approval's executor runs (once recorded; a retried task reads the result)."""
    for _ in range(ATTEMPTS):
        approval = get(approval_id)
        if approval.state != rules.APPROVED:
            raise Conflict(f"the approval is {approval.state}, not approved", "approval_not_approved")
        if approval.result is not None:
            return {"approval_id": approval_id, "result": approval.result}
        action = kinds.ACTIONS.get(approval.executor or "")
        result = (
            action(approval.kind, approval.subject, dict(approval.context or {}), now)
            if action is not None
            else {"recorded": False, "note": "no executor: the approval is the outcome"}
        )
        seq = int(approval.steps)
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.result.set(result),
                        Approval.executed_at.set(now),
                        Approval.steps.set(seq + 1),
                        Approval.updated_at.set(now),
                    ],
                    condition=Approval.result.does_not_exist() & (Approval.steps == seq),
                )
                _put_step(
                    tx,
                    _step(approval_id, seq, "executed", now, by=approval.executor, detail={"result": result}),
                )
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            continue
        return {"approval_id": approval_id, "result": result}
    raise Unavailable("the approval is changing; try again", "approval_busy")


# --- decisions and resume ----------------------------------------------------------------------


def decide(
    approval_id: str,
    me: Principal,
    *,
    level: int,
    decision: str,
    reason: str | None,
    comment: str | None,
    attachments: Sequence[str],
    now: datetime,
) -> Approval:
    """A person's decision on the waiting level. Written first (conditional on the approval's
    state, level, step counter and token), then sent to the waiting execution. A repeat of the
    same person's decision changes nothing; a decision on a finished approval or another level
    is 409; when the execution no longer waits on the token the decision is reverted and the
    answer is 409 `execution_finished` (resume, then decide again)."""
    wanted = rules.decision_of(
        level=level,
        decision=decision,
        by=me.user_id,
        at=now,
        reason=reason,
        comment=comment,
        attachments=attachments,
    )
    for _ in range(ATTEMPTS):
        approval = get_for(approval_id, me.operator)
        outcome = rules.decide(flow_of(approval, history(approval_id)), wanted, me.has_role)
        if outcome.repeated:
            return approval
        token = approval.waiting_token
        if token is None or approval.waiting_level != level:
            raise Conflict(
                "no execution waits for this level (it is starting, or it has ended: resume the "
                "approval, then decide)",
                "not_waiting",
            )
        seq = int(approval.steps)
        flow = outcome.flow
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.state.set(flow.state),
                        Approval.level.set(flow.level),
                        Approval.steps.set(seq + 1),
                        Approval.waiting_token.remove(),
                        Approval.waiting_level.remove(),
                        Approval.waiting_since.remove(),
                        Approval.escalated.set(False),
                        Approval.updated_at.set(now),
                    ],
                    condition=(Approval.state == rules.IN_PROGRESS)
                    & (Approval.level == level)
                    & (Approval.steps == seq)
                    & (Approval.waiting_token == token),
                )
                _put_step(
                    tx,
                    _step(
                        approval_id,
                        seq,
                        "decision",
                        now,
                        by=me.user_id,
                        level=level,
                        decision=wanted.decision,
                        reason=wanted.reason,
                        comment=wanted.comment,
                        attachments=list(wanted.attachments),
                        execution_name=approval.execution_name,
                    ),
                )
                for item in _inbox_items(approval, level, now, False):
                    tx.delete(item)
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            continue  # another decision or step landed: read again (a repeat, or 409)
        output = {"decision": wanted.decision, "by": me.user_id, "reason": wanted.reason, "level": level}
        try:
            sfn.send_task_success(token, output)
        except sfn.TokenDead as dead:
            _revert(approval, seq, level, now, token=None, why=str(dead))
            raise Conflict(
                "the execution waiting for this decision has ended; resume the approval "
                f"(POST /v1/ops/approvals/{approval_id}/resume), then decide again",
                "execution_finished",
            ) from dead
        except Exception as error:
            _revert(approval, seq, level, now, token=token, why=type(error).__name__)
            raise Unavailable(
                "the workflow service did not answer; try again", "workflow_unavailable"
            ) from error
        return get(approval_id)
    raise Unavailable("the approval is changing; try again", "approval_busy")


def _revert(approval: Approval, seq: int, level: int, now: datetime, *, token: str | None, why: str) -> None:
    """Undo decision `seq` (it did not reach an execution): the approval is back at `level`; with
    the `token` of a still waiting execution it waits again (and is in the inboxes again)."""
    approval_id = approval.approval_id
    actions: list[Action] = [
        Approval.state.set(rules.IN_PROGRESS),
        Approval.level.set(level),
        Approval.steps.set(seq + 2),
        Approval.updated_at.set(now),
    ]
    if token is not None:
        actions += [
            Approval.waiting_token.set(token),
            Approval.waiting_level.set(level),
            Approval.waiting_since.set(approval.waiting_since or now),
        ]
    with transaction() as tx:
        tx.update(Approval(approval_id), actions=actions, condition=Approval.steps == seq + 1)
        _put_step(
            tx, _step(approval_id, seq + 1, "reverted", now, level=level, detail={"seq": seq, "why": why})
        )
        if token is not None:
            for item in _inbox_items(
                approval, level, approval.waiting_since or now, bool(approval.escalated)
            ):
                tx.save(item)
    logger.warning("a decision was reverted", extra={"approval_id": approval_id, "why": why})


def running(approval: Approval) -> bool:
    """Whether the approval's latest execution still runs."""
    if not approval.execution_arn:
        return False
    return sfn.describe(approval.execution_arn).status == sfn.RUNNING


def resumable(approval: Approval) -> bool:
    if approval.state == rules.IN_PROGRESS:
        return True
    return (
        approval.state == rules.APPROVED
        and approval.result is None
        and approval.machine == kinds.APPROVAL_MACHINE
    )


def resume(approval_id: str, operator_id: str, now: datetime) -> Approval:
    """Start a new execution (`{id}.{n}`) from the records when the last one is gone (stopped,
    failed, or forgotten by a restarted local stack). The stale token and inbox entries go first."""
    approval = get_for(approval_id, operator_id)
    if not resumable(approval):
        raise Conflict(f"the approval is {approval.state}: nothing to resume", "approval_finished")
    if running(approval):
        raise Conflict(f"its execution {approval.execution_name} is still running", "execution_running")
    if approval.waiting_token is not None:
        try:
            with transaction() as tx:
                tx.update(
                    approval,
                    actions=[
                        Approval.waiting_token.remove(),
                        Approval.waiting_level.remove(),
                        Approval.updated_at.set(now),
                    ],
                    condition=Approval.waiting_token == approval.waiting_token,
                )
                if approval.state == rules.IN_PROGRESS:
                    for item in _inbox_items(approval, int(approval.level), now, False):
                        tx.delete(item)
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            raise Conflict("the approval changed meanwhile; try again", "approval_busy") from error
    if _start_run(approval_id, now) is None:
        raise Unavailable("the execution did not start; try again", "workflow_unavailable")
    return get(approval_id)


# --- the inbox ---------------------------------------------------------------------------------


def inbox(me: Principal, limit: int = 100) -> list[ApprovalInbox]:
    """What waits for me: one Query per role I hold in my operator and one for me by name."""
    operator = me.operator
    keys = [f"{operator}#role:{role}" for role in sorted(me.roles)] + [f"{operator}#user:{me.user_id}"]
    found: dict[str, ApprovalInbox] = {}
    for key in keys:
        for item in ApprovalInbox.query(key, limit=limit):
            found.setdefault(item.approval_id, item)
    return sorted(found.values(), key=lambda item: item.approval_id)[:limit]
