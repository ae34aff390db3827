"""What charging offers the other contexts: the sessions' money facts for the ledger's check and
the refund counters the refund workflow moves inside its own transactions."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from pynamodb.transactions import TransactWrite

from chalicelib.charging.domain.sessions import COMPLETED
from chalicelib.charging.models import ChargingSession
from chalicelib.charging.sessions import hold_released
from chalicelib.ledger.ports import SessionFact
from chalicelib.shared.db import get_or_none
from chalicelib.shared.errors import Conflict

__all__ = [
    "SessionRefundable",
    "complete_refund",
    "release_refund",
    "reserve_refund",
    "session_facts",
    "session_refundable",
]


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


# ---------------------------------------------------------------------------------------------
# Refunds (the workflows context): a completed session's refundable money and its counters,
# `refund_requested_fen` (in flight) and `refunded_fen`, moved only inside the refund's own
# transaction, each move conditional on what was read (the session's version).


@dataclass(frozen=True)
class SessionRefundable:
    session_id: str
    user_id: str
    operator_id: str | None
    station_id: str
    state: str
    prepaid_fen: int
    total_fen: int
    refunded_fen: int
    in_flight_fen: int
    version: int | None


def session_refundable(session_id: str) -> SessionRefundable | None:
    """A session's refund facts, read consistently (None when there is no such session)."""
    s = get_or_none(ChargingSession, session_id, consistent=True)
    if s is None:
        return None
    return SessionRefundable(
        str(s.session_id),
        str(s.user_id),
        s.operator_id,
        str(s.station_id),
        str(s.state),
        int(s.prepaid_fen),
        int((s.bill or {}).get("total_fen", 0)),
        int(s.refunded_fen or 0),
        int(s.refund_requested_fen or 0),
        s.version,
    )


def _as_read(seen: SessionRefundable) -> ChargingSession:
    # The version read: the update is conditional on it (and moves it on).
    return ChargingSession(seen.session_id, version=seen.version)


def reserve_refund(tx: TransactWrite, seen: SessionRefundable, amount_fen: int) -> None:
    """Count `amount_fen` in flight, as an item of the refund's transaction (conditional on the
    session unchanged since `seen` and still completed)."""
    tx.update(
        _as_read(seen),
        actions=[ChargingSession.refund_requested_fen.set(seen.in_flight_fen + amount_fen)],
        condition=ChargingSession.state == COMPLETED,
    )


def complete_refund(tx: TransactWrite, seen: SessionRefundable, amount_fen: int) -> None:
    """The reserved amount is paid: out of flight, into refunded (never beyond the prepaid)."""
    if seen.in_flight_fen < amount_fen or seen.refunded_fen + amount_fen > seen.prepaid_fen:
        raise Conflict("the session's refund counters do not hold this refund", "refund_counters")
    tx.update(
        _as_read(seen),
        actions=[
            ChargingSession.refund_requested_fen.set(seen.in_flight_fen - amount_fen),
            ChargingSession.refunded_fen.set(seen.refunded_fen + amount_fen),
        ],
    )


def release_refund(tx: TransactWrite, seen: SessionRefundable, amount_fen: int) -> None:
    """The reserved amount is not paid (rejected): out of flight."""
    if seen.in_flight_fen < amount_fen:
        raise Conflict("the session's refund counters do not hold this refund", "refund_counters")
    tx.update(
        _as_read(seen),
        actions=[ChargingSession.refund_requested_fen.set(seen.in_flight_fen - amount_fen)],
    )
