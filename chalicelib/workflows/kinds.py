"""The kinds of approval and what runs when one is approved.

A kind is configuration: the state machine that runs it, its default flow (used until an
operator saves its own template, `PUT /v1/ops/flows/{kind}`) and its executor, the name of an
action in ACTIONS that `workflow_execute` runs once the last level approves. Adding a kind is an
entry in KINDS and, when it does something on approval, a function in ACTIONS.

`refund` runs on the refund machine, which pays instead of running an executor; the others on
the generic approval machine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.shared.auth import CUSTOMER_SERVICE, FINANCE, OPS_ADMIN
from chalicelib.shared.errors import NotFound
from chalicelib.shared.timeutil import iso
from chalicelib.workflows.domain.approvals import DEFAULT_TIMEOUT_DAYS, Level

APPROVAL_MACHINE = "approval"
REFUND_MACHINE = "refund"
MACHINES = (APPROVAL_MACHINE, REFUND_MACHINE)


@dataclass(frozen=True)
class Kind:
    name: str
    machine: str
    levels: tuple[Level, ...]
    executor: str | None
    timeout_days: int = DEFAULT_TIMEOUT_DAYS
    description: str = ""


# An action gets the approval's kind, subject and context (what the requester submitted) and the
# instant; it returns what it did (kept on the approval as `result`). It runs at least once per
# approval (a retried task may run it again): it must be idempotent.
Action = Callable[[str, str, dict[str, Any], datetime], dict[str, Any]]


def record_rule_change(kind: str, subject: str, context: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A rule change (规则变更): the approved change is recorded on the approval, with when it
    took effect; the rule's owner reads it from there."""
    return {
        "recorded": True,
        "subject": subject,
        "change": context.get("change", {}),
        "effective_at": iso(now),
    }


def approve_reservation(kind: str, subject: str, context: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A reservation approved by staff (manual approval): its pass is written (idempotent)."""
    from chalicelib.parking import ports as parking

    return parking.approve_reservation(str(context["lot_id"]), str(context["reservation_id"]), now)


ACTIONS: dict[str, Action] = {"rule_change": record_rule_change, "reservation": approve_reservation}

KINDS: dict[str, Kind] = {
    "rule_change": Kind(
        "rule_change",
        APPROVAL_MACHINE,
        (Level(OPS_ADMIN),),
        "rule_change",
        description="a change of a lot's or station's rules, approved before it is recorded",
    ),
    "reservation": Kind(
        "reservation",
        APPROVAL_MACHINE,
        (Level(CUSTOMER_SERVICE),),
        "reservation",
        description="a driver's reservation at a lot with manual approval (预约审核): approved, the pass "
        "is written",
    ),
    "refund": Kind(
        "refund",
        REFUND_MACHINE,
        (Level(CUSTOMER_SERVICE), Level(FINANCE)),
        None,
        description="a refund: customer service reviews, then finance (the refund machine pays)",
    ),
}


def kind_of(name: str) -> Kind:
    kind = KINDS.get(name)
    if kind is None:
        raise NotFound(f"no approval kind {name!r}; one of {', '.join(sorted(KINDS))}", "kind_not_found")
    return kind
