"""The approval engine's typed HTTP input and output (msgspec Structs): what workflows/api.py
decodes and answers, and what the OpenAPI document shows."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from chalicelib.shared.types import Fen, Id, Timestamp
from chalicelib.workflows.domain import approvals as rules

Role = Literal["cashier", "customer_service", "finance", "ops_admin"]
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=rules.MAX_USER_ID_CHARS, pattern=r"\S")]
Title = Annotated[str, msgspec.Meta(min_length=1, max_length=120, pattern=r"\S")]
Reason = Annotated[str, msgspec.Meta(max_length=rules.MAX_REASON_CHARS)]
Comment = Annotated[str, msgspec.Meta(max_length=rules.MAX_COMMENT_CHARS)]
Attachment = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=rules.MAX_ATTACHMENT_CHARS,
        pattern=r"\S",
        description="a reference to an attachment stored elsewhere (e.g. an object key)",
    ),
]
LevelIndex = Annotated[int, msgspec.Meta(ge=0, le=rules.MAX_LEVELS, description="0 is the first level")]
Days = Annotated[int, msgspec.Meta(ge=rules.MIN_TIMEOUT_DAYS, le=rules.MAX_TIMEOUT_DAYS)]
Context = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="what the approval is about, for its executor (e.g. a rule change: "
        '`{"change": {...}}`); at most 8 KB as JSON',
        examples=[{"change": {"lot_id": "demo-lot", "grace_minutes": 20}}],
    ),
]
MAX_CONTEXT_BYTES = 8192


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused."""


# --- input -----------------------------------------------------------------------------------


class ApprovalIn(Strict):
    kind: Id
    subject: Id
    title: Title
    amount_fen: Fen | None = None
    context: Context = msgspec.field(default_factory=dict)
    submit: Annotated[bool, msgspec.Meta(description="false: keep it as a draft until submitted")] = True


class SubmitIn(Strict):
    pass


class DecisionIn(Strict):
    level: LevelIndex
    decision: Literal["approve", "reject"]
    reason: Reason | None = None
    comment: Comment | None = None
    attachments: Annotated[list[Attachment], msgspec.Meta(max_length=rules.MAX_ATTACHMENTS)] = msgspec.field(
        default_factory=list
    )


class ResumeIn(Strict):
    pass


class LevelIn(Strict):
    role: Role | None = None
    approvers: Annotated[list[UserId], msgspec.Meta(max_length=rules.MAX_APPROVERS)] = msgspec.field(
        default_factory=list
    )


class FlowIn(Strict):
    levels: Annotated[list[LevelIn], msgspec.Meta(max_length=rules.MAX_LEVELS)]
    timeout_days: Days = rules.DEFAULT_TIMEOUT_DAYS
    # absent: the kind's own executor; null: none (approving is the whole outcome)
    executor: Id | msgspec.UnsetType | None = msgspec.UNSET
    version: Annotated[int, msgspec.Meta(ge=0, le=999_999_999)] | None = None


# --- output ----------------------------------------------------------------------------------


class LevelOut(msgspec.Struct):
    role: str | None
    approvers: list[str]


class StepOut(msgspec.Struct):
    seq: int
    kind: str
    at: Timestamp
    by: str | None = None
    level: int | None = None
    decision: str | None = None
    reason: str | None = None
    comment: str | None = None
    attachments: list[str] = msgspec.field(default_factory=list)
    execution_name: str | None = None
    detail: dict[str, Any] = msgspec.field(default_factory=dict)


class ExecutionOut(msgspec.Struct):
    name: str | None
    arn: str | None
    runs: int
    console_url: str | None
    machine: str


class ApprovalOut(msgspec.Struct):
    approval_id: str
    kind: str
    subject: str
    title: str
    amount_fen: int | None
    state: str
    level: int
    levels: list[LevelOut]
    waiting: bool
    escalated: bool
    requested_by: str
    created_at: Timestamp
    updated_at: Timestamp
    execution: ExecutionOut
    steps: list[StepOut]
    result: dict[str, Any] | None = None


class InboxItemOut(msgspec.Struct):
    approval_id: str
    kind: str
    title: str
    subject: str
    amount_fen: int | None
    level: int
    waiting_since: Timestamp
    escalated: bool


class InboxOut(msgspec.Struct):
    items: list[InboxItemOut]


class FlowOut(msgspec.Struct):
    kind: str
    levels: list[LevelOut]
    timeout_days: int
    executor: str | None
    version: int  # 0: the kind's default (no template saved yet)
    machine: str
    updated_by: str | None = None
    updated_at: Timestamp | None = None
