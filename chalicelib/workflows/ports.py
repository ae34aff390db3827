"""What the workflows context offers the others: opening an approval of a kind that runs on the
generic approval machine, from another context's own use case (the kind's executor then calls
that context's port when the approval is approved)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.shared.db import transaction
from chalicelib.shared.ids import sortable_id
from chalicelib.workflows import engine, kinds


def open_approval(
    *,
    kind: str,
    operator_id: str,
    subject: str,
    title: str,
    requested_by: str,
    context: dict[str, Any],
    now: datetime,
) -> str:
    """A submitted approval of `kind` (the operator's flow template, or the kind's default),
    started after its commit; its id."""
    spec = kinds.kind_of(kind)
    approval_id = sortable_id("ap", now)
    with transaction() as tx:
        engine.open_in(
            tx,
            approval_id=approval_id,
            kind=kind,
            operator_id=operator_id,
            subject=subject,
            title=title,
            requested_by=requested_by,
            levels=None,
            amount_fen=None,
            context=context,
            machine=spec.machine,
            now=now,
        )
    engine.start(approval_id, now)
    return approval_id
