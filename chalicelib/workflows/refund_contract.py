"""Refunds' typed HTTP input and output (msgspec Structs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from chalicelib.shared.types import Fen, Id, PositiveFen, Timestamp

Reason = Annotated[str, msgspec.Meta(max_length=500, description="why (shown to the reviewers)")]
RequiredReason = Annotated[str, msgspec.Meta(min_length=1, max_length=500, pattern=r"\S")]
RefundStatus = Literal["requested", "reviewing", "paying", "refunded", "rejected", "failed"]
SubjectKind = Literal["charging_session", "parking_payment"]
# what a refund shows it refunds: also a wallet withdrawal's top-up (opened by the driver only)
ShownSubjectKind = Literal["charging_session", "parking_payment", "wallet_top_up"]
Origin = Literal["driver", "complaint", "overpayment"]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused."""


class RefundIn(Strict):
    amount_fen: PositiveFen
    reason: Reason | None = None


class ComplaintRefundIn(Strict):
    """Customer service opens a refund on a driver's complaint."""

    subject_kind: SubjectKind
    subject_id: Id
    amount_fen: PositiveFen
    reason: RequiredReason


class OpsRefundsQuery(msgspec.Struct, forbid_unknown_fields=True):
    status: RefundStatus | None = None


class PolicyIn(Strict):
    finance_above_fen: Fen = 0
    customer_service_for: list[Origin] = msgspec.field(default_factory=lambda: ["driver"])
    finance_for: list[Origin] = msgspec.field(default_factory=lambda: ["driver", "complaint"])


# --- output ----------------------------------------------------------------------------------


class SessionRefundOut(msgspec.Struct):
    """The driver's charging refund request (the contract it had in charging)."""

    session_id: str
    refund_id: str
    status: str
    amount_fen: Fen
    refundable_fen: Fen


class Step(msgspec.Struct):
    at: Timestamp
    state: str
    note: str
    by: str
    review: bool = False
    level: int | None = None


class Notice(msgspec.Struct):
    at: Timestamp
    state: str
    text: str


class RefundOut(msgspec.Struct):
    refund_id: str
    status: RefundStatus
    subject_kind: ShownSubjectKind
    subject_id: str
    origin: Origin
    amount_fen: Fen
    refunded_fen: Fen
    route: str
    reason: str | None
    levels: list[str]
    created_at: Timestamp
    updated_at: Timestamp
    paid_at: Timestamp | None
    execution_name: str | None
    steps: list[Step]
    notifications: list[Notice]
    refundable_fen: Fen | None = None


class RefundSummary(msgspec.Struct):
    refund_id: str
    status: RefundStatus
    subject_kind: ShownSubjectKind
    subject_id: str
    origin: Origin
    user_id: str
    amount_fen: Fen
    refunded_fen: Fen
    created_at: Timestamp
    updated_at: Timestamp
    failure: str | None


class RefundsOut(msgspec.Struct):
    refunds: list[RefundSummary]


class RefundRequestsOut(msgspec.Struct):
    """The former charging refund-request list: my operator's charging refunds."""

    refund_requests: list[dict[str, Any]]


class PolicyOut(msgspec.Struct):
    operator_id: str
    finance_above_fen: Fen
    customer_service_for: list[str]
    finance_for: list[str]


class RefundNotificationAnswer(msgspec.Struct):
    """WeChat Pay's expected acknowledgement of a refund notification; `outcome`: applied (this
    notification booked the refund) | already_applied | not_success (ABNORMAL / CLOSED: nothing
    booked)."""

    code: str
    message: str
    outcome: str


class WithdrawalIn(Strict):
    """Withdraw part of the wallet's balance, back through the top-ups it came from."""

    amount_fen: PositiveFen
    reason: Reason | None = None


class WithdrawalOut(msgspec.Struct):
    amount_fen: Fen
    refunds: list[RefundOut]  # one per top-up it goes back through
