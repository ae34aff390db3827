"""What charging offers the other contexts: the sessions' money facts for the ledger's check."""

from __future__ import annotations

from collections.abc import Iterator

from chalicelib.charging.models import ChargingSession
from chalicelib.charging.sessions import hold_released
from chalicelib.ledger.ports import SessionFact

__all__ = ["session_facts"]


def session_facts() -> Iterator[SessionFact]:
    """Every session's prepay, refunds and hold (a scan, never on a request path)."""
    for s in ChargingSession.scan():
        yield SessionFact(
            str(s.session_id),
            int(s.prepaid_fen),
            int(s.refunded_fen),
            hold_released(s),
            int(s.refund_requested_fen or 0),
            int((s.bill or {}).get("total_fen", 0)),
        )
