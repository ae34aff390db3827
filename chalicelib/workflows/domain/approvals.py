"""Approvals (审批), the pure rules: a flow of levels decided in order, any level can reject.

States: `draft` → `in_progress` (submitted) → `approved` (every level approved) or `rejected`
(one level rejected; the flow ends there). A level is decided by a holder of its `role` (of the
approval's operator; an ops_admin holds every role) or by one of its named `approvers`. A
decision records who, when, why (a reason is required to reject), a comment and references to
attachments (object keys: text, bounded in count and length).

Deciding is idempotent: the same person's same decision on a level already decided by it is a
repeat (nothing changes). Any other decision on a finished approval or on a level that is not
the current one is a Conflict with a code a client can act on. No I/O, no clock: `now` comes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.shared.errors import Conflict, Forbidden, Invalid

DRAFT = "draft"
IN_PROGRESS = "in_progress"
APPROVED = "approved"
REJECTED = "rejected"
STATES = (DRAFT, IN_PROGRESS, APPROVED, REJECTED)
FINISHED = (APPROVED, REJECTED)

APPROVE = "approve"
REJECT = "reject"
DECISIONS = (APPROVE, REJECT)

MAX_LEVELS = 10
MAX_APPROVERS = 20
MAX_ATTACHMENTS = 10
MAX_ATTACHMENT_CHARS = 512
MAX_REASON_CHARS = 500
MAX_COMMENT_CHARS = 2000
MAX_USER_ID_CHARS = 128
MIN_TIMEOUT_DAYS = 1
MAX_TIMEOUT_DAYS = 365  # a task token waits at most a year in Step Functions
DEFAULT_TIMEOUT_DAYS = 3


@dataclass(frozen=True)
class Level:
    """Who decides one level: any holder of `role`, or one of `approvers` (user ids)."""

    role: str | None
    approvers: tuple[str, ...] = ()

    def may_decide(self, user_id: str, holds: Callable[[str], bool]) -> bool:
        """`holds(role)` answers for the caller (Principal.has_role: ops_admin holds them all)."""
        return user_id in self.approvers or (self.role is not None and holds(self.role))

    def inbox_keys(self, operator_id: str) -> tuple[str, ...]:
        """Where this level shows up while it waits: "{operator}#role:{role}" for the role's
        holders, "{operator}#user:{id}" for each named approver."""
        keys = [f"{operator_id}#role:{self.role}"] if self.role else []
        return (*keys, *(f"{operator_id}#user:{user}" for user in self.approvers))

    def to_dict(self) -> dict[str, object]:
        return {"role": self.role, "approvers": list(self.approvers)}


def level_of(raw: object, roles: Iterable[str]) -> Level:
    """A level from stored or submitted data, checked: a known role and/or named approvers."""
    if not isinstance(raw, dict):
        raise Invalid("a level is an object with a role and/or approvers", "invalid_levels")
    role = raw.get("role")
    approvers = raw.get("approvers") or []
    known = tuple(roles)
    if role is not None and role not in known:
        raise Invalid(f"a level's role must be one of {', '.join(known)}", "invalid_levels")
    if not isinstance(approvers, list | tuple) or len(approvers) > MAX_APPROVERS:
        raise Invalid(f"a level names at most {MAX_APPROVERS} approvers", "invalid_levels")
    names: list[str] = []
    for user in approvers:
        if not isinstance(user, str) or not user.strip() or len(user) > MAX_USER_ID_CHARS:
            raise Invalid("an approver is a user id (1 to 128 characters)", "invalid_levels")
        if user not in names:
            names.append(user)
    if role is None and not names:
        raise Invalid("a level needs a role or at least one approver", "invalid_levels")
    return Level(role, tuple(names))


def levels_of(raw: object, roles: Iterable[str]) -> tuple[Level, ...]:
    if not isinstance(raw, list | tuple) or len(raw) > MAX_LEVELS:
        raise Invalid(f"levels is a list of at most {MAX_LEVELS} levels", "invalid_levels")
    known = tuple(roles)
    return tuple(level_of(item, known) for item in raw)


def timeout_days(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("timeout_days must be a whole number of days", "invalid_timeout")
    if not MIN_TIMEOUT_DAYS <= value <= MAX_TIMEOUT_DAYS:
        raise Invalid(
            f"timeout_days must be from {MIN_TIMEOUT_DAYS} to {MAX_TIMEOUT_DAYS}", "invalid_timeout"
        )
    return value


@dataclass(frozen=True)
class Decision:
    level: int
    decision: str
    by: str
    at: datetime
    reason: str | None = None
    comment: str | None = None
    attachments: tuple[str, ...] = ()

    def same_as(self, other: Decision) -> bool:
        """The same person's same decision on the same level (a second click)."""
        return (self.level, self.decision, self.by) == (other.level, other.decision, other.by)


def decision_of(
    *,
    level: int,
    decision: str,
    by: str,
    at: datetime,
    reason: str | None = None,
    comment: str | None = None,
    attachments: Sequence[str] = (),
) -> Decision:
    """A decision as submitted, checked: approve or reject, a reason to reject, bounded texts."""
    if decision not in DECISIONS:
        raise Invalid("decision must be approve or reject", "invalid_decision")
    reason = reason.strip() if isinstance(reason, str) else None
    comment = comment.strip() if isinstance(comment, str) else None
    if decision == REJECT and not reason:
        raise Invalid("a rejection needs a reason", "reason_required")
    if reason is not None and len(reason) > MAX_REASON_CHARS:
        raise Invalid(f"reason is at most {MAX_REASON_CHARS} characters", "invalid_reason")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise Invalid(f"comment is at most {MAX_COMMENT_CHARS} characters", "invalid_comment")
    if len(attachments) > MAX_ATTACHMENTS:
        raise Invalid(f"at most {MAX_ATTACHMENTS} attachments", "invalid_attachments")
    for ref in attachments:
        if not isinstance(ref, str) or not ref.strip() or len(ref) > MAX_ATTACHMENT_CHARS:
            raise Invalid(
                f"an attachment is a reference (1 to {MAX_ATTACHMENT_CHARS} characters)",
                "invalid_attachments",
            )
    return Decision(level, decision, by, at, reason or None, comment or None, tuple(attachments))


@dataclass(frozen=True)
class Flow:
    """An approval's state: its levels, the current level (index) and the decisions so far."""

    state: str
    levels: tuple[Level, ...]
    level: int = 0
    decisions: tuple[Decision, ...] = field(default_factory=tuple)

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    @property
    def current(self) -> Level | None:
        if self.state != IN_PROGRESS or self.level >= len(self.levels):
            return None
        return self.levels[self.level]


def opened(levels: Sequence[Level], *, submit: bool = True) -> Flow:
    """A new flow: a draft, or submitted (`in_progress`; `approved` at once with no levels)."""
    if len(levels) > MAX_LEVELS:
        raise Invalid(f"at most {MAX_LEVELS} levels", "invalid_levels")
    flow = Flow(DRAFT, tuple(levels))
    return submitted(flow) if submit else flow


def submitted(flow: Flow) -> Flow:
    if flow.state != DRAFT:
        raise Conflict(f"the approval is {flow.state}, not a draft", "approval_submitted")
    return replace(flow, state=IN_PROGRESS if flow.levels else APPROVED, level=0)


@dataclass(frozen=True)
class Outcome:
    flow: Flow
    decision: Decision
    repeated: bool  # a second identical click: nothing changed


def decide(flow: Flow, decision: Decision, holds: Callable[[str], bool]) -> Outcome:
    """Apply one decision. A repeat of a recorded decision is an Outcome with `repeated`."""
    earlier = next((d for d in flow.decisions if d.same_as(decision)), None)
    if earlier is not None:
        return Outcome(flow, earlier, repeated=True)
    if flow.state == DRAFT:
        raise Conflict("the approval is a draft: submit it first", "approval_not_submitted")
    if flow.finished:
        raise Conflict(f"the approval is already {flow.state}", "approval_finished")
    if decision.level != flow.level:
        raise Conflict(
            f"level {decision.level} is not the level waiting for a decision ({flow.level})", "stale_level"
        )
    level = flow.levels[flow.level]
    if not level.may_decide(decision.by, holds):
        raise Forbidden("you are not an approver of this level", "not_an_approver")
    decisions = (*flow.decisions, decision)
    if decision.decision == REJECT:
        return Outcome(replace(flow, state=REJECTED, decisions=decisions), decision, repeated=False)
    following = flow.level + 1
    state = APPROVED if following >= len(flow.levels) else IN_PROGRESS
    return Outcome(replace(flow, state=state, level=following, decisions=decisions), decision, repeated=False)
