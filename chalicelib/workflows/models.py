"""The approval engine's tables. Access patterns next to each model; no request path scans.

Every change of an approval is one transaction: the Approval (conditional on its state, level
and step counter), the ApprovalStep it adds (conditional on its seq not existing) and the inbox
entries it adds or removes. The app's records are the source of truth; the Step Functions
execution follows them (workflows/engine.py)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for


# ----------------------------------------------------------------------------------------------
# Approval (审批单): one per approval (a refund review is one too: its id is the refund's id).
# `levels` = [{"role", "approvers"}, ...] copied from the flow template when opened, so a template
# changed later does not change approvals in flight; `level` = the index of the level deciding
# now; `steps` = how many ApprovalStep items exist (the next seq). While a level waits for a
# person, `waiting_token` holds the Step Functions task token (and ApprovalInbox lists it);
# `runs` = executions started (the execution of run n is named `{id}` for n=0, `{id}.{n}` after).
# Access patterns:
# - an approval by id (every use case; the task functions with consistent reads).
class Approval(Model):
    class Meta(TableMeta):
        table_name = table_name_for("approvals")

    approval_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    subject = UnicodeAttribute()
    title = UnicodeAttribute()
    amount_fen = NumberAttribute(null=True)
    state = UnicodeAttribute()
    levels = JSONAttribute(default=list)
    level = NumberAttribute(default=0)
    timeout_days = NumberAttribute()
    executor = UnicodeAttribute(null=True)
    context = JSONAttribute(default=dict)
    machine = UnicodeAttribute()
    requested_by = UnicodeAttribute()
    steps = NumberAttribute(default=0)
    waiting_token = UnicodeAttribute(null=True)
    waiting_level = NumberAttribute(null=True)
    waiting_since = UTCDateTimeAttribute(null=True)
    escalated = BooleanAttribute(default=False)
    escalations = NumberAttribute(default=0)
    runs = NumberAttribute(default=0)
    execution_name = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    result = JSONAttribute(null=True)
    executed_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


# ----------------------------------------------------------------------------------------------
# ApprovalStep (审批记录): the history, append-only, seq 0, 1, 2 ... per approval. `kind`:
# submitted | decision | escalated | started (an execution began: first run or a resume) |
# executed (the kind's action ran) | reverted (a decision whose execution had ended, undone).
# Access patterns:
# - an approval's steps in order (Query by approval_id; the history view, idempotent repeats).
class ApprovalStep(Model):
    class Meta(TableMeta):
        table_name = table_name_for("approval_steps")

    approval_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    kind = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    by = UnicodeAttribute(null=True)
    level = NumberAttribute(null=True)
    decision = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    comment = UnicodeAttribute(null=True)
    attachments = JSONAttribute(default=list)
    execution_name = UnicodeAttribute(null=True)
    detail = JSONAttribute(default=dict)


# ----------------------------------------------------------------------------------------------
# ApprovalInbox (待办): one item per (place, approval) while a level waits for a person, put by
# the wait task in the transaction that stores the task token, deleted by the decision's (or the
# resume's) transaction. `waiting_for` = "{operator}#role:{role}" or "{operator}#user:{user_id}";
# range key the approval id (time-sortable: oldest first). A staff member's inbox is one Query
# per role held plus one for the user (no scans); items carry what the list shows.
# Access patterns:
# - the approvals waiting for a role of an operator, or for a named person (Query).
class ApprovalInbox(Model):
    class Meta(TableMeta):
        table_name = table_name_for("approval_inbox")

    waiting_for = UnicodeAttribute(hash_key=True)
    approval_id = UnicodeAttribute(range_key=True)
    operator_id = UnicodeAttribute()
    kind = UnicodeAttribute()
    title = UnicodeAttribute()
    subject = UnicodeAttribute()
    amount_fen = NumberAttribute(null=True)
    level = NumberAttribute()
    since = UTCDateTimeAttribute()
    escalated = BooleanAttribute(default=False)


# ----------------------------------------------------------------------------------------------
# FlowTemplate (审批流程): per operator and kind, the levels, the days a level may wait before it
# escalates, and the executor (the registered action run on approval). An operator without one
# for a kind gets the kind's default (workflows/kinds.py). `version` guards concurrent edits.
# Access patterns:
# - the template of (operator, kind) (opening an approval, the flows API).
class FlowTemplate(Model):
    class Meta(TableMeta):
        table_name = table_name_for("flow_templates")

    operator_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute(range_key=True)
    levels = JSONAttribute(default=list)
    timeout_days = NumberAttribute()
    executor = UnicodeAttribute(null=True)
    version = NumberAttribute(default=1)
    updated_by = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()


MODELS: list[type[Model]] = [Approval, ApprovalStep, ApprovalInbox, FlowTemplate]
