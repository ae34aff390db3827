"""Refund rules (domain.md §3.3 and §4), pure: integer fen, no I/O, `now` passed in.

What may be refunded: what was paid, minus what was already refunded, minus what requests still in
flight ask for. A charging session only when it is completed with a total above zero (its "paid" is
its prepaid amount; the automatic return of the unused prepaid counts as refunded); a parking
payment up to what the provider took. Checked when a refund is requested and again when it is paid
(the reservation made at request time is what the payment consumes, so the second check holds by
construction and a subject's counters are conditional writes).

Which reviews a refund needs is the operator's refund policy, by origin and amount. A refund moves
requested → reviewing → paying → refunded, or ends rejected (any review level) or failed (the
provider kept failing; finance may retry it: failed → paying).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.shared.errors import Conflict, Invalid, Unprocessable

# --- what is refunded ------------------------------------------------------------------------

CHARGING_SESSION = "charging_session"
PARKING_PAYMENT = "parking_payment"
SUBJECT_KINDS = (CHARGING_SESSION, PARKING_PAYMENT)
# a wallet withdrawal, paid back through one of the driver's top-ups (asked by the driver only)
WALLET_TOP_UP = "wallet_top_up"

# --- who asked -------------------------------------------------------------------------------

DRIVER = "driver"  # a driver asked for it in the app
COMPLAINT = "complaint"  # customer service opened it on a driver's complaint
OVERPAYMENT = "overpayment"  # automatic: money a provider took beyond what was owed
ORIGINS = (DRIVER, COMPLAINT, OVERPAYMENT)

# --- review roles (the staff groups) ---------------------------------------------------------

CUSTOMER_SERVICE = "customer_service"
FINANCE = "finance"

# --- states ----------------------------------------------------------------------------------

REQUESTED = "requested"  # recorded, its reservation made, the workflow not started yet
REVIEWING = "reviewing"  # waiting for people's decisions
PAYING = "paying"  # approved (or needing no people): the money is being sent back
REFUNDED = "refunded"
REJECTED = "rejected"
FAILED = "failed"  # the provider kept failing: visible to finance, who may retry
STATES = (REQUESTED, REVIEWING, PAYING, REFUNDED, REJECTED, FAILED)
FINAL = (REFUNDED, REJECTED)
# The amount stays reserved on the subject (counted in flight) in every state but the final ones:
# a failed refund still holds it, so a retry can never find it spent by another request.
HOLDS_RESERVATION = (REQUESTED, REVIEWING, PAYING, FAILED)

_MOVES: dict[str, tuple[str, ...]] = {
    REQUESTED: (REVIEWING, PAYING, REJECTED),
    REVIEWING: (PAYING, REJECTED),
    PAYING: (REFUNDED, FAILED),
    FAILED: (PAYING,),
    REFUNDED: (),
    REJECTED: (),
}


def can_move(state: str, to: str) -> bool:
    return to in _MOVES.get(state, ())


def move(state: str, to: str) -> str:
    """The next state, or Conflict when the refund cannot go there from where it is."""
    if not can_move(state, to):
        raise Conflict(f"a {state} refund cannot become {to}", "refund_state")
    return to


# --- amounts ---------------------------------------------------------------------------------


def refundable(paid_fen: int, refunded_fen: int, in_flight_fen: int) -> int:
    """What a new request may still ask for."""
    return max(0, int(paid_fen) - int(refunded_fen) - int(in_flight_fen))


def session_paid(state: str, total_fen: int, prepaid_fen: int) -> int:
    """A charging session's refundable base: its prepaid amount, only once it is completed with a
    total above zero (nothing otherwise)."""
    return int(prepaid_fen) if state == "completed" and int(total_fen) > 0 else 0


def withdrawal_plan(
    amount_fen: int, balance_fen: int, top_ups: list[tuple[str, int]]
) -> list[tuple[str, int]]:
    """How a wallet withdrawal goes back: through the top-ups in the order given (newest first),
    each up to what is left of it (`top_ups`: (id, refundable fen)), never beyond the balance.
    Refused (422 `amount_too_high`, naming how much can go back) when they cannot cover it."""
    if amount_fen <= 0:
        raise Unprocessable("a withdrawal is a positive amount of fen", "invalid_amount")
    plan: list[tuple[str, int]] = []
    left = min(int(amount_fen), max(0, int(balance_fen)))
    for top_up_id, refundable_fen in top_ups:
        part = min(left, max(0, int(refundable_fen)))
        if part > 0:
            plan.append((top_up_id, part))
            left -= part
    possible = sum(part for _, part in plan)
    if possible < amount_fen:
        raise Unprocessable(
            f"at most {possible} fen can be withdrawn (the wallet's balance paid in through top-ups "
            "that are not yet withdrawn)",
            "amount_too_high",
        )
    return plan


@dataclass(frozen=True)
class Subject:
    """A refundable thing's money facts, as its own context keeps them."""

    kind: str
    subject_id: str
    user_id: str
    operator_id: str | None
    paid_fen: int  # 0: not refundable at all
    refunded_fen: int
    in_flight_fen: int
    why_not: str = ""  # when paid_fen is 0: why

    @property
    def refundable_fen(self) -> int:
        return refundable(self.paid_fen, self.refunded_fen, self.in_flight_fen)


def check_amount(subject: Subject, amount_fen: int) -> int:
    """A request for `amount_fen` against the subject as it is now; what stays refundable after it.
    Refused: not refundable at all (409 not_refundable); more than is left counting the requests
    in flight (422 amount_too_high)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int) or amount_fen <= 0:
        raise Invalid("amount_fen must be a positive whole number of fen", "invalid_amount")
    if subject.paid_fen <= 0:
        raise Conflict(subject.why_not or "this cannot be refunded", "not_refundable")
    left = subject.refundable_fen
    if amount_fen > left:
        raise Unprocessable(
            f"at most {left} fen can be refunded (paid {subject.paid_fen}, refunded "
            f"{subject.refunded_fen}, in flight {subject.in_flight_fen})",
            "amount_too_high",
        )
    return left - amount_fen


# --- the policy: which reviews a refund needs ------------------------------------------------


@dataclass(frozen=True)
class RefundPolicy:
    """An operator's refund policy. Defaults (domain.md §4: customer service reviews, finance
    reviews): a driver's request goes to customer service and then finance; a refund customer
    service opened on a complaint goes to finance (the opener was the first review); an automatic
    refund of an overpayment needs nobody. Finance reviews only amounts above
    `finance_above_fen` (default 0: every amount); an operator may raise it so small refunds skip
    finance. `customer_service_for` names the origins customer service reviews."""

    finance_above_fen: int = 0
    customer_service_for: tuple[str, ...] = (DRIVER,)
    finance_for: tuple[str, ...] = (DRIVER, COMPLAINT)

    def levels(self, origin: str, amount_fen: int) -> tuple[str, ...]:
        """The review roles in order; () for a refund that goes straight to paying."""
        if origin not in ORIGINS:
            raise Invalid(f"origin must be one of {', '.join(ORIGINS)}", "invalid_origin")
        roles: list[str] = []
        if origin in self.customer_service_for:
            roles.append(CUSTOMER_SERVICE)
        if origin in self.finance_for and amount_fen > self.finance_above_fen:
            roles.append(FINANCE)
        return tuple(roles)

    def as_dict(self) -> dict[str, Any]:
        return {
            "finance_above_fen": self.finance_above_fen,
            "customer_service_for": list(self.customer_service_for),
            "finance_for": list(self.finance_for),
        }


DEFAULT_POLICY = RefundPolicy()


def policy_from(data: dict[str, Any] | None) -> RefundPolicy:
    """A stored policy (missing keys take the defaults); an unknown origin is refused."""
    if not data:
        return DEFAULT_POLICY
    above = data.get("finance_above_fen", DEFAULT_POLICY.finance_above_fen)
    if isinstance(above, bool) or not isinstance(above, int) or above < 0:
        raise Invalid("finance_above_fen must be a whole number of fen, 0 or more", "invalid_policy")
    cs = tuple(data.get("customer_service_for", DEFAULT_POLICY.customer_service_for))
    fin = tuple(data.get("finance_for", DEFAULT_POLICY.finance_for))
    for origin in (*cs, *fin):
        if origin not in ORIGINS:
            raise Invalid(f"unknown origin {origin!r}", "invalid_policy")
    return RefundPolicy(above, cs, fin)


# --- routes back -----------------------------------------------------------------------------

WALLET = "wallet"  # a wallet-paid charging prepay goes back to the wallet
PROVIDER = "provider"  # a provider payment goes back through the provider's refund API


@dataclass(frozen=True)
class Event:
    """One line of a refund's own history (the review decisions are the approval's steps)."""

    at: str
    state: str
    note: str = ""
    by: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"at": self.at, "state": self.state, "note": self.note, "by": self.by}


@dataclass(frozen=True)
class Notification:
    """What the requester reads about their refund."""

    at: str
    text: str
    extra: dict[str, Any] = field(default_factory=dict)


def notification_text(state: str, amount_fen: int, refunded_fen: int, reason: str = "") -> str:
    yuan = f"{amount_fen // 100}.{amount_fen % 100:02d}"
    if state == REFUNDED:
        back = f"{refunded_fen // 100}.{refunded_fen % 100:02d}"
        return f"Your refund of {back} yuan has been paid back."
    if state == REJECTED:
        return f"Your refund request of {yuan} yuan was declined" + (f": {reason}" if reason else ".")
    if state == FAILED:
        return f"Your refund of {yuan} yuan is delayed; our finance team is on it."
    return f"Your refund request of {yuan} yuan is {state}."
