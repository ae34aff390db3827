"""Refund use cases: open a refund (a driver's request, customer service on a complaint, the
automatic refund of an overpayment), pay it by its original route, reject it, mark it failed,
retry it, and read it back.

Opening is one transaction: the Refund, the subject's reservation (its in-flight counter, through
the subject context's port) and the review approval (the engine's `open_in`), then the execution of
the refund state machine is started, named by the refund id. Paying is one transaction too: the
refund's state, the subject's counters, the money (wallet credit) and the journal posting; a
provider refund is asked first, numbered by the refund id (the provider makes one refund per
number, so a retried payment step never refunds twice).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.charging import ports as charging
from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import ports as payments
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, NotFound, Unavailable
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.observability import logger, metrics
from chalicelib.shared.timeutil import iso
from chalicelib.workflows import engine
from chalicelib.workflows.domain import refunds as rules
from chalicelib.workflows.refund_models import START_PENDING, Refund, RefundPolicyItem

KIND = "refund"
MACHINE = "refund"
SYSTEM = "system"
ATTEMPTS = 5
FAILED_METRIC = "RefundsFailed"


# --- the subject: what is refunded -----------------------------------------------------------


@dataclass(frozen=True)
class _Subject:
    facts: rules.Subject
    site: str
    route: str
    provider: str | None
    details: dict[str, Any]
    seen: Any  # the subject context's read, for its conditional counters


def _session(session_id: str) -> _Subject | None:
    s = charging.session_refundable(session_id)
    if s is None:
        return None
    paid = rules.session_paid(s.state, s.total_fen, s.prepaid_fen)
    facts = rules.Subject(
        rules.CHARGING_SESSION,
        s.session_id,
        s.user_id,
        s.operator_id,
        paid,
        s.refunded_fen,
        s.in_flight_fen,
        "" if paid else "only a completed session with a total above zero can be refunded",
    )
    details = {"session_id": s.session_id, "station_id": s.station_id}
    return _Subject(facts, ledger.station_site(s.station_id), rules.WALLET, None, details, s)


def _payment(payment_id: str, kind: str = rules.PARKING_PAYMENT) -> _Subject | None:
    p = payments.payment_refundable(payment_id)
    # a top-up is withdrawn from the wallet; a coupon batch is not a parking fee; a paid
    # reservation's payment is paid back as the reservation owes it (automatically, see `_open`)
    purposes = (payments.TOP_UP,) if kind == rules.WALLET_TOP_UP else (None, payments.RESERVATION)
    if p is None or p.purpose not in purposes:
        return None
    facts = rules.Subject(
        kind,
        p.payment_id,
        p.user_id,
        parking.lot_operator(p.lot_id),
        p.amount_fen,
        p.refunded_fen,
        p.in_flight_fen,
        "" if p.amount_fen else "only a payment the provider confirmed can be refunded",
    )
    details = {
        "payment_id": p.payment_id,
        "lot_id": p.lot_id,
        "lot_plate": p.lot_plate,
        "visit_id": p.visit_id,
        "total_fen": p.amount_fen,
        **({"purpose": p.purpose} if p.purpose else {}),
    }
    # a fee paid from the wallet goes back to the wallet; a provider's payment through the provider
    route = rules.WALLET if p.provider == rules.WALLET else rules.PROVIDER
    return _Subject(facts, ledger.lot_site(p.lot_id), route, p.provider, details, p)


def _load(kind: str, subject_id: str) -> _Subject | None:
    return _session(subject_id) if kind == rules.CHARGING_SESSION else _payment(subject_id, kind)


def _missing(kind: str) -> NotFound:
    if kind == rules.CHARGING_SESSION:
        return NotFound("no such charging session", "session_not_found")
    return NotFound("no such payment", "payment_not_found")


# --- the policy ------------------------------------------------------------------------------


def policy_of(operator_id: str | None) -> rules.RefundPolicy:
    item = get_or_none(RefundPolicyItem, operator_id or "-")
    return rules.policy_from(item.policy if item is not None else None)


def set_policy(operator_id: str, data: dict[str, Any], by: str, now: datetime) -> rules.RefundPolicy:
    policy = rules.policy_from(data)
    RefundPolicyItem(operator_id, policy=policy.as_dict(), updated_at=now, updated_by=by).save()
    return policy


# --- opening ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    refund: Refund
    refundable_fen: int  # what is left to ask for after this refund
    created: bool = True


def _event(state: str, now: datetime, note: str = "", by: str = "") -> dict[str, str]:
    return rules.Event(iso(now), state, note, by).as_dict()


def _open(
    kind: str,
    subject_id: str,
    *,
    origin: str,
    amount_fen: int,
    requested_by: str,
    reason: str | None,
    now: datetime,
    owner: tuple[str, str | None],
    refund_id: str | None = None,
) -> Opened:
    """Check the amount against the subject (counting requests in flight), then write the refund,
    the reservation and the review in one transaction and start the workflow. `owner`: which
    attribute of the subject must be whose (the driver's own, the staff member's operator)."""
    for _ in range(ATTEMPTS):
        subject = _load(kind, subject_id)
        facts = subject.facts if subject is not None else None
        if subject is None or facts is None or getattr(facts, owner[0]) != owner[1]:
            raise _missing(kind)
        if subject.details.get("purpose") == payments.RESERVATION and origin != rules.OVERPAYMENT:
            raise _missing(kind)  # a reservation is cancelled, not refunded by hand
        if refund_id is not None and (existing := get_or_none(Refund, refund_id, consistent=True)):
            return Opened(existing, facts.refundable_fen, created=False)
        left = rules.check_amount(facts, amount_fen)
        levels = policy_of(facts.operator_id).levels(origin, amount_fen)
        rid = refund_id or sortable_id("rf", now)
        refund = Refund(
            rid,
            operator_id=facts.operator_id or "-",
            user_id=facts.user_id,
            subject_kind=kind,
            subject_id=facts.subject_id,
            subject=f"{kind}:{facts.subject_id}",
            site=subject.site,
            origin=origin,
            requested_by=requested_by,
            reason=reason,
            amount_fen=amount_fen,
            refunded_fen=0,
            route=subject.route,
            provider=subject.provider,
            status=rules.REQUESTED,
            levels=list(levels),
            created_at=now,
            updated_at=now,
            runs=1,
            events=[_event(rules.REQUESTED, now, reason or origin, requested_by)],
            notifications=[],
            details=subject.details,
            start_pending=START_PENDING,
        )
        try:
            with transaction() as tx:
                tx.save(refund, condition=Refund.refund_id.does_not_exist())
                if kind == rules.CHARGING_SESSION:
                    charging.reserve_refund(tx, subject.seen, amount_fen)
                else:
                    payments.reserve_refund(
                        tx, subject.seen, amount_fen, overpayment=origin == rules.OVERPAYMENT
                    )
                engine.open_in(
                    tx,
                    approval_id=rid,
                    kind=KIND,
                    operator_id=facts.operator_id or "-",
                    subject=refund.subject,
                    title=f"Refund {amount_fen} fen ({origin}) of {refund.subject}",
                    requested_by=requested_by,
                    levels=[engine.Level(role) for role in levels],
                    amount_fen=amount_fen,
                    context={"refund_id": rid, "origin": origin, "reason": reason or ""},
                    machine=MACHINE,
                    now=now,
                )
                if kind == rules.WALLET_TOP_UP:  # the withdrawn amount leaves the wallet now
                    payments.debit(tx, facts.user_id, amount_fen, now)
                    ledger.add(
                        tx, ledger.withdrawal_held(rid, user_id=facts.user_id, amount_fen=amount_fen, at=now)
                    )
        except TransactWriteError as error:
            if failed_condition(error, index=0):
                existing = get_or_none(Refund, rid, consistent=True)
                if existing is not None:
                    return Opened(existing, facts.refundable_fen, created=False)
            if origin == rules.OVERPAYMENT and failed_condition(error, index=1):
                raise Conflict("this overpayment's refund was opened already", "already_opened") from error
            continue  # the subject changed meanwhile (another request counted first): check again
        start(rid, now)
        return Opened(Refund.get(rid, consistent_read=True), left)
    raise Conflict("the payment or session changed meanwhile; try again", "refund_conflict")


def start(refund_id: str, now: datetime) -> None:
    """Start (or find started) the refund's execution; the refund then reads `reviewing` (or
    `paying` when it needs nobody). A failure to start leaves it `requested`, on the `unstarted`
    index: the sweep starts it again."""
    if engine.start(refund_id, now) is None:
        return  # logged by the engine
    refund = Refund.get(refund_id, consistent_read=True)
    if refund.status != rules.REQUESTED:
        if refund.start_pending is not None:
            with contextlib.suppress(UpdateError):
                refund.update(actions=[Refund.start_pending.remove()])
        return
    to = rules.REVIEWING if refund.levels else rules.PAYING
    with contextlib.suppress(UpdateError):  # the workflow moved it first: the next sweep tidies up
        refund.update(
            actions=[
                Refund.status.set(to),
                Refund.start_pending.remove(),
                Refund.updated_at.set(now),
                Refund.events.set([*(refund.events or []), _event(to, now)]),
            ],
            condition=Refund.status == rules.REQUESTED,
        )


def request_for_session(
    user_id: str, session_id: str, amount_fen: int, reason: str | None, now: datetime
) -> Opened:
    """A driver's refund request for their completed charging bill."""
    return _open(
        rules.CHARGING_SESSION,
        session_id,
        origin=rules.DRIVER,
        amount_fen=amount_fen,
        requested_by=user_id,
        reason=reason,
        now=now,
        owner=("user_id", user_id),
    )


def request_for_payment(
    user_id: str, payment_id: str, amount_fen: int, reason: str | None, now: datetime
) -> Opened:
    """A driver's refund request for their parking payment."""
    return _open(
        rules.PARKING_PAYMENT,
        payment_id,
        origin=rules.DRIVER,
        amount_fen=amount_fen,
        requested_by=user_id,
        reason=reason,
        now=now,
        owner=("user_id", user_id),
    )


def open_on_complaint(
    staff_id: str, operator_id: str, kind: str, subject_id: str, amount_fen: int, reason: str, now: datetime
) -> Opened:
    """Customer service opens a refund on a driver's complaint (their operator's subjects only)."""
    return _open(
        kind,
        subject_id,
        origin=rules.COMPLAINT,
        amount_fen=amount_fen,
        requested_by=staff_id,
        reason=reason,
        now=now,
        owner=("operator_id", operator_id),
    )


def withdraw(user_id: str, amount_fen: int, reason: str | None, now: datetime) -> list[Opened]:
    """A driver withdraws part of the wallet's balance: paid back through the top-ups it came
    from (newest first, each up to what is left of it), one refund per top-up, each reviewed and
    paid by the refund workflow. Only money topped up through a provider can go back that way
    (422 `amount_too_high` names how much can); the amount leaves the wallet when the refunds are
    opened and comes back if a review rejects one."""
    balance = payments.view(user_id).balance_fen
    top_ups = [
        (t.payment_id, rules.refundable(t.amount_fen, t.refunded_fen, t.in_flight_fen))
        for t in payments.booked_top_ups(user_id)
    ]
    plan = rules.withdrawal_plan(amount_fen, balance, top_ups)
    return [
        _open(
            rules.WALLET_TOP_UP,
            payment_id,
            origin=rules.DRIVER,
            amount_fen=part,
            requested_by=user_id,
            reason=reason or "wallet withdrawal",
            now=now,
            owner=("user_id", user_id),
        )
        for payment_id, part in plan
    ]


def overpayment_refund_id(payment_id: str) -> str:
    """One automatic refund per overpaid payment: its id is derived from the payment."""
    return f"rf-{payment_id}"


def open_overpayment(payment: payments.PaymentRefundable, now: datetime) -> Opened | None:
    """The automatic refund of a payment's excess (no person reviews it); None when there is
    nothing to refund any more (the driver had it refunded otherwise)."""
    facts = _payment(payment.payment_id)
    if facts is None:
        return None
    amount = min(payment.excess_fen, facts.facts.refundable_fen)
    if amount <= 0:
        payments.clear_overpayment(payment.payment_id)  # refunded otherwise: nothing left to open
        return None
    try:
        return _open(
            rules.PARKING_PAYMENT,
            payment.payment_id,
            origin=rules.OVERPAYMENT,
            amount_fen=amount,
            requested_by=SYSTEM,
            reason=f"overpayment: {payment.excess_fen} fen beyond what the visit owed",
            now=now,
            owner=("user_id", payment.user_id),
            refund_id=overpayment_refund_id(payment.payment_id),
        )
    except Conflict:
        return None


START_GRACE = timedelta(minutes=1)


def sweep_overpayments(now: datetime) -> dict[str, int]:
    """The trigger of automatic refunds: every booked payment with an excess and no refund opened
    for it yet gets one (its id derived from the payment, so never two). The backstop of every
    refund's start: one whose execution did not start within a minute is started again."""
    counts = {"opened": 0, "skipped": 0, "started": 0}
    for payment in payments.open_overpayments():
        opened = open_overpayment(payment, now)
        counts["opened" if opened is not None and opened.created else "skipped"] += 1
    for refund in Refund.unstarted.query(START_PENDING, Refund.created_at <= now - START_GRACE, limit=100):
        start(str(refund.refund_id), now)
        counts["started"] += 1
    return counts


# --- the workflow's steps --------------------------------------------------------------------


def get(refund_id: str) -> Refund:
    refund = get_or_none(Refund, refund_id, consistent=True)
    if refund is None:
        raise NotFound("no such refund", "refund_not_found")
    return refund


def _notification(refund: Refund, state: str, now: datetime, reason: str = "") -> dict[str, Any]:
    text = rules.notification_text(state, int(refund.amount_fen), int(refund.refunded_fen or 0), reason)
    return {"at": iso(now), "state": state, "text": text}


def pay(refund_id: str, now: datetime) -> Refund:
    """Pay an approved refund back by its original route, once. Checked again here: the refund is
    approved, its reservation still holds and paying it keeps the subject within what was paid.
    A provider that is down raises payments.ProviderUnavailable (the workflow retries)."""
    refund = get(refund_id)
    if refund.status == rules.REFUNDED:
        return refund
    if refund.status not in (rules.REQUESTED, rules.REVIEWING, rules.PAYING):
        raise Conflict(f"a {refund.status} refund is not paid", "refund_state")
    approval = engine.get(refund_id)
    if str(approval.state) != "approved":
        raise Conflict("this refund is not approved", "not_approved")
    if refund.status != rules.PAYING:
        try:
            refund.update(
                actions=[
                    Refund.status.set(rules.PAYING),
                    Refund.updated_at.set(now),
                    Refund.events.set([*(refund.events or []), _event(rules.PAYING, now)]),
                ],
                condition=Refund.status == refund.status,
            )
        except UpdateError:
            refund = get(refund_id)
            if refund.status != rules.PAYING:
                return refund if refund.status == rules.REFUNDED else pay(refund_id, now)
    amount = int(refund.amount_fen)
    provider_refund = None
    if refund.route == rules.PROVIDER:
        subject = _payment(str(refund.subject_id), str(refund.subject_kind))
        if subject is None or subject.facts.in_flight_fen < amount:
            raise Conflict("the payment no longer holds this refund's reservation", "refund_counters")
        provider_refund = payments.refund(
            str(refund.provider),
            refund_no=refund_id,
            trade_no=str(refund.subject_id),
            amount_fen=amount,
            total_fen=subject.facts.paid_fen,
        )
    return _book(refund_id, provider_refund.provider_refund_id if provider_refund else None, now)


def book_provider_refund(refund_id: str, provider_refund_id: str, now: datetime) -> tuple[Refund, bool]:
    """The provider says it paid the refund back (WeChat Pay's REFUND.SUCCESS notification after a
    PROCESSING answer): booked once, as `pay` books it (whichever comes first). A refund that had
    failed (the provider answered PROCESSING until the machine gave up) is booked too: the money
    went back. Answers the refund and whether this call booked it."""
    refund = get(refund_id)
    if refund.status == rules.REFUNDED:
        return refund, False
    if refund.status not in (rules.PAYING, rules.FAILED):
        raise Conflict(f"a {refund.status} refund is not being paid", "refund_state")
    booked = _book(refund_id, provider_refund_id, now, from_status=str(refund.status))
    return booked, True


def _book(
    refund_id: str, provider_refund_id: str | None, now: datetime, from_status: str = rules.PAYING
) -> Refund:
    """The paid-back refund, its subject's counters, the money and the journal posting, in one
    transaction conditional on the refund's status (so it is booked once)."""
    for _ in range(ATTEMPTS):
        refund = get(refund_id)
        if refund.status == rules.REFUNDED:
            return refund
        amount = int(refund.amount_fen)
        details = dict(refund.details or {})
        done = {**_event(rules.REFUNDED, now), "note": f"{amount} fen by {refund.route}"}
        actions: list[Action] = [
            Refund.status.set(rules.REFUNDED),
            Refund.refunded_fen.set(amount),
            Refund.paid_at.set(now),
            Refund.updated_at.set(now),
            Refund.events.set([*(refund.events or []), done]),
        ]
        if provider_refund_id is not None:
            actions.append(Refund.provider_refund_id.set(provider_refund_id))
        if from_status == rules.FAILED:
            actions.append(Refund.failed_operator.remove())
        try:
            with transaction() as tx:
                tx.update(refund, actions=actions, condition=Refund.status == from_status)
                if refund.subject_kind == rules.CHARGING_SESSION:
                    seen = charging.session_refundable(str(refund.subject_id))
                    if seen is None:
                        raise Conflict("the session is gone", "session_not_found")
                    charging.complete_refund(tx, seen, amount)
                    payments.credit(tx, str(refund.user_id), amount, now)
                    ledger.add(
                        tx,
                        ledger.charging_refund(
                            refund_id,
                            session_id=str(refund.subject_id),
                            user_id=str(refund.user_id),
                            station_id=str(details.get("station_id")),
                            operator_id=str(refund.operator_id),
                            amount_fen=amount,
                            at=now,
                        ),
                    )
                elif refund.subject_kind == rules.WALLET_TOP_UP:
                    payments.complete_refund(tx, str(refund.subject_id), amount)
                    ledger.add(
                        tx,
                        ledger.withdrawal_paid(
                            refund_id,
                            payment_id=str(refund.subject_id),
                            provider=str(refund.provider),
                            user_id=str(refund.user_id),
                            amount_fen=amount,
                            at=now,
                        ),
                    )
                else:
                    payments.complete_refund(tx, str(refund.subject_id), amount)
                    lot_plate, visit_id = str(details["lot_plate"]), str(details["visit_id"])
                    obligation = parking.open_obligation(lot_plate, visit_id)
                    settled = min(obligation, amount)
                    if settled:
                        parking.settle_obligation(tx, lot_plate, visit_id, obligation, settled)
                    to_wallet = refund.route == rules.WALLET  # a fee paid from the wallet
                    if to_wallet:
                        payments.credit(tx, str(refund.user_id), amount, now)
                    ledger.add(
                        tx,
                        ledger.parking_refund(
                            refund_id,
                            payment_id=str(refund.subject_id),
                            provider=str(refund.provider),
                            lot_id=str(details["lot_id"]),
                            operator_id=str(refund.operator_id),
                            visit_id=visit_id,
                            amount_fen=amount,
                            from_obligation_fen=settled,
                            at=now,
                            to_account=ledger.wallet(str(refund.user_id)) if to_wallet else None,
                            subject=parking.obligation_subject(visit_id),
                        ),
                    )
        except TransactWriteError:
            continue  # the subject moved meanwhile (another refund, an exit): read it again
        return get(refund_id)
    raise Conflict("the refund's subject kept changing; the workflow will try again", "refund_conflict")


def rejection_of(refund_id: str) -> tuple[str, str]:
    """The standing reject decision's reason and author (from the approval's steps)."""
    history = engine.history(refund_id)
    reverted = {int((s.detail or {}).get("seq", -1)) for s in history if s.kind == "reverted"}
    for step in reversed(history):
        if step.kind == "decision" and step.decision == "reject" and int(step.seq) not in reverted:
            return str(step.reason or ""), str(step.by or "")
    return "", ""


def reject(refund_id: str, now: datetime, reason: str = "", by: str = "") -> Refund:
    """A review rejected it: the reservation is released, the requester is told why."""
    for _ in range(ATTEMPTS):
        refund = get(refund_id)
        if refund.status == rules.REJECTED:
            return refund
        rules.move(refund.status, rules.REJECTED)
        amount = int(refund.amount_fen)
        try:
            with transaction() as tx:
                tx.update(
                    refund,
                    actions=[
                        Refund.status.set(rules.REJECTED),
                        Refund.updated_at.set(now),
                        Refund.events.set([*(refund.events or []), _event(rules.REJECTED, now, reason, by)]),
                    ],
                    condition=Refund.status == refund.status,
                )
                if refund.subject_kind == rules.CHARGING_SESSION:
                    seen = charging.session_refundable(str(refund.subject_id))
                    if seen is None:
                        raise Conflict("the session is gone", "session_not_found")
                    charging.release_refund(tx, seen, amount)
                else:
                    payments.release_refund(tx, str(refund.subject_id), amount)
                if refund.subject_kind == rules.WALLET_TOP_UP:  # the withdrawn amount back
                    user = str(refund.user_id)
                    payments.credit(tx, user, amount, now)
                    ledger.add(
                        tx, ledger.withdrawal_released(refund_id, user_id=user, amount_fen=amount, at=now)
                    )
        except TransactWriteError:
            continue
        return get(refund_id)
    raise Conflict("the refund's subject kept changing; try again", "refund_conflict")


def fail(refund_id: str, now: datetime, error: str) -> Refund:
    """The provider kept failing: the refund is failed (its reservation kept, so nothing else can
    spend it), listed for finance, counted by the alarmed metric."""
    refund = get(refund_id)
    if refund.status in (rules.FAILED, rules.REFUNDED):
        return refund
    rules.move(refund.status, rules.FAILED)
    try:
        refund.update(
            actions=[
                Refund.status.set(rules.FAILED),
                Refund.failure.set(error[:500] or "the provider refund failed"),
                Refund.failed_operator.set(str(refund.operator_id)),
                Refund.updated_at.set(now),
                Refund.events.set([*(refund.events or []), _event(rules.FAILED, now, error[:200])]),
            ],
            condition=Refund.status == refund.status,
        )
    except UpdateError:
        return get(refund_id)
    metrics.add_metric(name=FAILED_METRIC, unit="Count", value=1)  # alarmed; flushed by the task
    logger.error("refund failed", extra={"refund_id": refund_id, "error": error[:500]})
    return get(refund_id)


def notify(refund_id: str, now: datetime) -> Refund:
    """Record, once per final state, what the requester reads about their refund."""
    refund = get(refund_id)
    state = str(refund.status)
    notes = list(refund.notifications or [])
    if state not in (rules.REFUNDED, rules.REJECTED, rules.FAILED) or any(
        n.get("state") == state for n in notes
    ):
        return refund
    reason = next((e.get("note", "") for e in reversed(refund.events or []) if e.get("state") == state), "")
    with contextlib.suppress(UpdateError):  # changed meanwhile: the next notify records it
        refund.update(
            actions=[Refund.notifications.set([*notes, _notification(refund, state, now, reason)])],
            condition=(Refund.status == state) & (Refund.updated_at == refund.updated_at),
        )
    return get(refund_id)


def retry(refund_id: str, operator_id: str, by: str, now: datetime) -> Refund:
    """Finance tries a failed refund again: a new execution, `{refund_id}.{n}`, that goes straight
    to paying (the reviews are decided) with the reservation it still holds."""
    refund = get(refund_id)
    if refund.operator_id != operator_id:
        raise NotFound("no such refund", "refund_not_found")
    if refund.status != rules.FAILED:
        raise Conflict(f"only a failed refund can be retried; this one is {refund.status}", "not_failed")
    try:
        refund.update(
            actions=[
                Refund.status.set(rules.PAYING),
                Refund.failed_operator.remove(),
                Refund.runs.add(1),
                Refund.updated_at.set(now),
                Refund.events.set(
                    [*(refund.events or []), _event(rules.PAYING, now, "retried by finance", by)]
                ),
            ],
            condition=Refund.status == rules.FAILED,
        )
    except UpdateError as error:
        raise Conflict("the refund changed meanwhile", "not_failed") from error
    if engine.start_again(refund_id, now) is None:
        # Not started: failed again, as it was (finance may retry once the workflow service answers).
        fail(refund_id, now, "the retry's execution did not start")
        raise Unavailable("the refund workflow did not start; try again", "workflow_unavailable")
    return get(refund_id)


# --- reading ---------------------------------------------------------------------------------


def of_user(user_id: str, limit: int = 100) -> list[Refund]:
    return list(Refund.by_user.query(user_id, scan_index_forward=False, limit=limit))


def own(user_id: str, refund_id: str) -> Refund:
    refund = get_or_none(Refund, refund_id, consistent=True)
    if refund is None or refund.user_id != user_id:
        raise NotFound("no such refund", "refund_not_found")
    return refund


def of_operator(operator_id: str, status: str | None = None, limit: int = 200) -> list[Refund]:
    if status == rules.FAILED:
        return list(Refund.failed.query(operator_id, scan_index_forward=False, limit=limit))
    found = Refund.by_operator.query(operator_id, scan_index_forward=False, limit=limit)
    return [r for r in found if status is None or r.status == status]


def of_operator_refund(operator_id: str, refund_id: str) -> Refund:
    refund = get_or_none(Refund, refund_id, consistent=True)
    if refund is None or refund.operator_id != operator_id:
        raise NotFound("no such refund", "refund_not_found")
    return refund


def steps(refund: Refund) -> list[dict[str, Any]]:
    """The refund's history: its own events and the reviews' decisions (who, when, why)."""
    history = engine.history(str(refund.refund_id))
    reverted = {int((s.detail or {}).get("seq", -1)) for s in history if s.kind == "reverted"}
    decisions = [
        {
            "at": iso(step.at),
            "state": {"approve": "approved", "reject": "rejected"}.get(
                str(step.decision), str(step.decision)
            ),
            "review": True,
            "note": str(step.reason or ""),
            "by": str(step.by or ""),
            "level": int(step.level or 0),
        }
        for step in history
        if step.kind == "decision" and int(step.seq) not in reverted
    ]
    own = [{**e, "review": False, "level": None} for e in refund.events or []]
    return sorted([*own, *decisions], key=lambda e: str(e["at"]))
