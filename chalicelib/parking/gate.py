"""The gate path: a capture comes in, a decision and commands go out.

Round trips per capture: device and lot configuration from the container cache; one strongly
consistent Query for the plate's latest visits at the lot (at exit up to three: the current one
and the newest closed one, which keeps the no-repeat cycle's running total); one TransactWrite
that records the message as handled, writes the visit change, its journal posting, any record,
and the commands; then the publish.
A repeated capture fails the transaction's inbox condition and changes nothing; it re-publishes
the device's commands that were committed but never acknowledged (a publish that failed after the
commit is not lost). A new capture re-publishes them only when a publish to the device failed in
this process (no read otherwise); status reports, reconnects and the sweeper do the rest.

An exit that must wait for payment and the payment's release agree through the visit: the exit
marks the car waiting only if the visit's `paid_fen` is still what it priced (a payment that
committed in between fails that condition and the exit is decided again, now paid); a payment
releases a car only if it is marked waiting. Whichever comes second opens the barrier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import (
    config,
    gate_commands,
    identities,
    occupancy,
    paid_reservations,
    pricing,
    shared_spaces,
    stored_value,
)
from chalicelib.parking.domain import gate, plates
from chalicelib.parking.domain.tariffs import Price
from chalicelib.parking.messages import Capture, GateEvent
from chalicelib.parking.models import (
    ABNORMAL_ENTRY,
    EXITED,
    INSIDE,
    LEFT,
    RECORD_ABNORMAL_CAPTURE,
    RECORD_ABNORMAL_ENTRY,
    RECORD_NON_SYSTEM_OPENING,
    RECORD_UNMATCHED_EXIT,
    Visit,
    lot_plate_key,
    new_record,
)
from chalicelib.parking.pricing import ExitPricing
from chalicelib.payments import ports as payments
from chalicelib.platform import commands, inbox, registry
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.platform.envelope import InvalidMessage
from chalicelib.shared.db import cancellation_codes, failed_condition, transaction
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso


@dataclass
class GateOutcome:
    # entered | refused | exited | held | payment_required | unmatched_exit | duplicate | already_exited
    result: str
    visit_id: str | None = None
    due_fen: int = 0
    commands: list[OutgoingCommand] = field(default_factory=list)


class VisitChanged(Exception):
    """The visit changed between the read and the write (a payment came in): decide again."""


EXIT_ATTEMPTS = 3


def _commit(
    capture: Capture,
    outcome: str,
    outgoing: list[OutgoingCommand],
    now: datetime,
    write: Callable[[TransactWrite], None],
    lot: config.LotConfig | None = None,
    occupancy_delta: int = 0,
    kind: str = "capture",
) -> bool:
    """One transaction: the "message handled" marker first (so a repeated capture fails on it),
    the lot's occupancy change (within 0..capacity), the caller's writes, the commands (the
    outbox); then the publish. False for a repeated capture, which re-publishes the device's
    commands still waiting for an ack."""

    def items(tx: TransactWrite) -> None:
        write(tx)
        for command in outgoing:
            tx.save(command.record(now))

    try:
        counted = occupancy.transact(
            lot.lot_id if lot is not None else "",
            lot.capacity if lot is not None else 0,
            occupancy_delta,
            now,
            items,
            first=lambda tx: inbox.add(tx, capture.device_id, capture.message_id, kind, outcome, now),
        )
    except TransactWriteError as error:
        if failed_condition(error, index=0):
            commands.resend_pending(capture.device_id, now)
            return False
        if failed_condition(error) or "TransactionConflict" in cancellation_codes(error):
            # The commands have no condition: the caller's writes met a change (or a concurrent
            # transaction on the same items, e.g. a payment being booked on the visit).
            raise VisitChanged from error
        raise
    # What a publish to this device failed to send before goes first (oldest first), then this
    # decision's commands.
    commands.resend_unsent(capture.device_id, now, exclude={c.correlation_id for c in outgoing})
    commands.publish(outgoing)
    if counted and lot is not None:
        occupancy.notify(lot.lot_id, now)
    return True


def handle_capture(capture: Capture, now: datetime) -> GateOutcome:
    device = registry.info(capture.device_id)
    if device is None or device.lot_id is None or device.lane_id is None:
        raise InvalidMessage(f"unknown device {capture.device_id}")
    if capture.lane_id is not None and capture.lane_id != device.lane_id:
        raise InvalidMessage(f"lane {capture.lane_id} does not belong to device {capture.device_id}")
    lot = config.lot(device.lot_id)
    if lot is None or device.lane_id not in lot.lanes:
        raise InvalidMessage(f"device {capture.device_id} is not installed at a known lane")
    lane = lot.lanes[device.lane_id]
    if lane.direction != capture.direction:
        raise InvalidMessage(
            f"lane {lane.lane_id} is an '{lane.direction}' lane, capture says '{capture.direction}'"
        )
    plate = plates.normalize(capture.plate)
    if plates.is_unreadable(plate):
        plate = plates.placeholder(now)
    if capture.direction == "in":
        return enter(capture, lot, lane.lane_id, plate, now)
    return _exit(capture, lot, lane.lane_id, plate, now)


def enter(
    capture: Capture, lot: config.LotConfig, lane_id: str, plate: str, now: datetime, user: str | None = None
) -> GateOutcome:
    """Decide on what was read; a card changed by another lane's car in between (a group's last
    space taken) makes the entry read and decide again."""
    for attempt in range(EXIT_ATTEMPTS):
        try:
            return _enter_once(capture, lot, lane_id, plate, now, user)
        except VisitChanged:
            if attempt + 1 == EXIT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _enter_once(
    capture: Capture, lot: config.LotConfig, lane_id: str, plate: str, now: datetime, user: str | None
) -> GateOutcome:
    item, recent = identities.lookup(lot.lot_id, plate, limit=1)
    previous = recent[0] if recent else None
    already_inside = previous is not None and previous.status == INSIDE
    entry, card_state = identities.resolve(lot, lane_id, plate, now, item, already_inside)
    if entry.refused:
        refusal = [gate_commands.display(capture.device_id, entry.display, now)]
        if not _commit(capture, "refused", refusal, now, lambda tx: None):
            return GateOutcome("duplicate")
        return GateOutcome("refused", commands=refusal)
    decision = gate.EntryDecision(True, entry.remark, entry.display, already_inside)
    visit_id = sortable_id("v", now)
    vehicle_class = plates.vehicle_class(plate, capture.plate_color, capture.vehicle_type)
    ref = identities.tariff_ref(lot, entry) or pricing.ref_at_entry(lot, vehicle_class)
    outgoing = [gate_commands.display(capture.device_id, decision.display, now)]
    if decision.open_gate:
        outgoing.insert(0, gate_commands.open_gate(capture.device_id, lane_id, visit_id, now))
    visit = Visit(
        lot_plate_key(lot.lot_id, plate),
        visit_id,
        lot_id=lot.lot_id,
        plate=plate,
        plate_color=capture.plate_color,
        vehicle_class=vehicle_class,
        status=INSIDE,
        inside_lot=lot.lot_id,
        entered_at=now,
        entry_lane_id=lane_id,
        entry_device_id=capture.device_id,
        entry_message_id=capture.message_id,
        entry_remark=decision.remark,
        tariff_ref=ref.to_dict() if ref else None,
        **identities.visit_fields(entry, item, user),
    )

    def write(tx: TransactWrite) -> None:
        tx.save(visit, condition=Visit.visit_id.does_not_exist())
        identities.entry_writes(tx, lot, plate, entry, card_state, visit_id, now, item)
        if decision.previous_becomes_abnormal and previous is not None:
            paid = int(previous.paid_fen)
            # Whatever the abandoned visit had paid is owed back (it is never charged now).
            posting = ledger.visit_closed(
                previous.visit_id,
                lot_id=lot.lot_id,
                operator_id=lot.operator_id,
                total_fen=0,
                discount_fen=0,
                paid_fen=paid,
                at=now,
                reason="abnormal_entry",
            )
            tx.update(
                previous,
                actions=[
                    Visit.status.set(ABNORMAL_ENTRY),
                    Visit.inside_lot.remove(),
                    Visit.abnormal_reason.set(f"同一车牌再次入场 (新记录 {visit_id})"),
                    *([Visit.overpaid_fen.add(paid)] if paid else []),
                ],
                condition=(Visit.status == INSIDE) & (Visit.paid_fen == paid),
            )
            ledger.add(tx, posting, lot.timezone)
            paid_reservations.on_close(tx, previous, lot, 0, now)  # never charged: its prepaid back
            tx.save(
                new_record(
                    lot.lot_id,
                    RECORD_ABNORMAL_ENTRY,
                    plate,
                    now,
                    previous.visit_id,
                    visit_id=previous.visit_id,
                    detail={
                        "entered_at": iso(previous.entered_at),
                        "replaced_by": visit_id,
                        "reason": "plate entered again while inside",
                    },
                )
            )

    # A plate already inside replaces its earlier visit: the count does not move.
    delta = 0 if decision.previous_becomes_abnormal else 1
    if not _commit(capture, "entered", outgoing, now, write, lot, delta):
        return GateOutcome("duplicate")
    return GateOutcome("entered", visit_id=visit_id, commands=outgoing)


def _exit(capture: Capture, lot: config.LotConfig, lane_id: str, plate: str, now: datetime) -> GateOutcome:
    """Decide on what was read; if the visit changed before the decision was written (a payment
    landed in between, which found no car waiting to release), read and decide again."""
    for attempt in range(EXIT_ATTEMPTS):
        try:
            return _exit_once(capture, lot, lane_id, plate, now)
        except VisitChanged:
            if attempt + 1 == EXIT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _exit_once(
    capture: Capture, lot: config.LotConfig, lane_id: str, plate: str, now: datetime
) -> GateOutcome:
    item, recent = identities.lookup(lot.lot_id, plate, limit=3)
    visit = recent[0] if recent else None
    if visit is not None and _just_released_here(visit, capture.device_id, now):
        # The car is still at the barrier it was let out of (the open may not have reached the
        # device): not an unmatched exit. What the device has not acknowledged is sent again.
        commands.resend_pending(capture.device_id, now)
        repeat = inbox.seen(capture.device_id, capture.message_id) is not None
        return GateOutcome("duplicate" if repeat else "already_exited", visit_id=visit.visit_id)
    if visit is None or visit.status != INSIDE:
        return _unmatched_exit(capture, lot, lane_id, plate, now)
    return decide_exit(capture, lot, lane_id, visit, recent[1:], now, identity=item)


def decide_exit(
    capture: Capture,
    lot: config.LotConfig,
    lane_id: str,
    visit: Visit,
    earlier: list[Visit],
    now: datetime,
    also: Callable[[TransactWrite], object] | None = None,
    kind: str = "capture",
    identity: identities.PlateIdentity | None = None,
) -> GateOutcome:
    """The exit of an open visit at a lane: open when nothing is due (the visit closes), else show
    the amount and mark the car waiting. Staff's manual match and exit correction decide here
    too, with their record and audit entry added by `also` to the same transaction. A locked
    car is held; in open-gate mode a car that owes leaves and what it owes becomes arrears."""
    priced = pricing.exit_decision(visit, lot, now, earlier, with_coupons=True)
    decision = priced.decision
    rule = identities.exit_rule(visit, lane_id, decision.due_fen, lot, identity)
    if rule.held:  # a locked car: held before anything is paid from its funds
        return _hold(capture, visit, rule.display, now, also, kind)
    # A fee due may be paid here from the car's stored-value card, else from the plate's prestore
    # (auto-pay) or by no-sense pay, in this exit's transaction (a temporary car's exit reads no
    # card, and a lot without prestore plates costs no round trip).
    funds = (
        stored_value.at_exit(visit, lot, decision.due_fen, now)
        or payments.exit_funds(lot.lot_id, visit.plate, decision.due_fen, now)
        if decision.due_fen
        else None
    )
    if funds is not None:
        decision = gate.ExitDecision(True, decision.fee, 0, (visit.plate, funds.display, "一路顺风"))
    owed = 0 if funds is not None else rule.owed_fen  # open-gate mode: what it leaves owing
    opens = decision.open_gate or owed > 0
    outgoing: list[OutgoingCommand] = []
    if opens:
        outgoing.append(gate_commands.open_gate(capture.device_id, lane_id, visit.visit_id, now))
    outgoing.append(
        gate_commands.display(capture.device_id, (rule.display if owed else ()) or decision.display, now)
    )
    outcome = "exited" if opens else "payment_required"

    # A car told to pay waits only if no payment was booked since the visit was read.
    paid = int(visit.paid_fen or 0)
    unchanged = Visit.paid_fen == paid
    if paid == 0:
        unchanged = Visit.paid_fen.does_not_exist() | unchanged
    unchanged = (Visit.status == INSIDE) & unchanged

    def write(tx: TransactWrite) -> None:
        if also is not None:
            also(tx)
        if opens:
            paid_now = funds.amount_fen if funds is not None else 0
            close(tx, visit, lot, priced, earlier, lane_id, capture.device_id, now, paid_now_fen=paid_now)
            if funds is not None:
                funds.add(tx, visit.visit_id, lot.operator_id, lot.timezone)
            if owed:
                identities.owe(tx, visit, lot, lane_id, owed, identity, now)
            return
        tx.update(
            visit,
            actions=[
                Visit.waiting_exit_device_id.set(capture.device_id),
                Visit.waiting_exit_lane_id.set(lane_id),
                Visit.total_fen.set(decision.fee.total_fen),
            ],
            condition=unchanged,
        )

    delta = -1 if opens else 0
    if not _commit(capture, outcome, outgoing, now, write, lot, delta, kind):
        return GateOutcome("duplicate")
    return GateOutcome(outcome, visit_id=visit.visit_id, due_fen=decision.due_fen, commands=outgoing)


def _hold(
    capture: Capture,
    visit: Visit,
    display: tuple[str, ...],
    now: datetime,
    also: Callable[[TransactWrite], object] | None,
    kind: str,
) -> GateOutcome:
    """A locked car (锁车) at the exit: the barrier stays down whatever it owes."""
    outgoing = [gate_commands.display(capture.device_id, display, now)]

    def write(tx: TransactWrite) -> None:
        if also is not None:
            also(tx)

    if not _commit(capture, "held", outgoing, now, write, kind=kind):
        return GateOutcome("duplicate")
    return GateOutcome("held", visit_id=visit.visit_id, commands=outgoing)


def _just_released_here(visit: Visit, device_id: str, now: datetime) -> bool:
    return (
        visit.status in LEFT
        and visit.exit_device_id == device_id
        and visit.exited_at is not None
        and timedelta(0) <= now - visit.exited_at <= gate_commands.OPEN_VALID_FOR
    )


def close(
    tx: TransactWrite,
    visit: Visit,
    lot: config.LotConfig,
    priced: ExitPricing,
    earlier: list[Visit],
    lane_id: str,
    device_id: str,
    now: datetime,
    extra_condition: Any = None,
    paid_now_fen: int = 0,
) -> None:
    """The visit leaves: closed once (on its status and on the paid amount it was priced with, so
    a payment landing meanwhile makes the exit decide again), with its journal posting (fee as
    revenue, discounts and waivers, anything paid beyond the fee as a refund obligation).
    `paid_now_fen`: paid at this exit from the plate's funds (its posting is the caller's)."""
    fee = priced.decision.fee
    paid = int(visit.paid_fen)
    discount = int(visit.discount_fen) + priced.discount_fen
    # A paid reservation's prepaid pays its own fee first (the rest is owed back to the payer).
    prepaid = paid_reservations.on_close(tx, visit, lot, fee.total_fen - discount, now)
    # The group space it took is freed; what it paid toward earlier visits' arrears is theirs.
    to_arrears = identities.on_close(
        tx, visit, lot, fee.total_fen - discount, paid + paid_now_fen + prepaid, now
    )
    posting = ledger.visit_closed(
        visit.visit_id,
        lot_id=visit.lot_id,
        operator_id=lot.operator_id,
        total_fen=fee.total_fen,
        discount_fen=discount,
        paid_fen=paid + paid_now_fen + prepaid - to_arrears,
        at=now,
    )
    excess = posting.memo["excess_fen"] if posting is not None else 0
    actions = close_actions(fee, visit.lot_id, lane_id, device_id, now)
    if paid_now_fen:
        actions.append(Visit.paid_fen.add(paid_now_fen))
    total = pricing.cycle_total(visit, lot, fee, earlier)
    if total is not None:
        actions.append(Visit.cycle_total_fen.set(total))
    if excess:
        actions.append(Visit.overpaid_fen.add(excess))
    actions.append(Visit.discount_fen.set(posting.memo["discount_fen"] if posting is not None else discount))
    condition = (Visit.status == INSIDE) & (Visit.paid_fen == paid)
    if extra_condition is not None:
        condition = condition & extra_condition
    tx.update(visit, actions=actions, condition=condition)
    ledger.add(tx, posting, lot.timezone)
    shared_spaces.on_close(tx, visit, lot, fee, discount, now)  # a guest's after part: the owner's
    pricing.use_coupons(tx, visit, lot, priced.coupon, f"exit:{visit.visit_id}", now)


def close_actions(
    fee: Price, lot_id: str | None, lane_id: str, device_id: str, now: datetime
) -> list[Action]:
    """A visit leaving; `lot_id` lists it among the lot's exits (None for an abnormal release,
    which is not a normal exit)."""
    actions: list[Action] = [
        Visit.status.set(EXITED),
        Visit.inside_lot.remove(),
        Visit.exited_at.set(now),
        *([Visit.exited_lot.set(lot_id)] if lot_id is not None else []),
        Visit.exit_lane_id.set(lane_id),
        Visit.exit_device_id.set(device_id),
        Visit.total_fen.set(fee.total_fen),
        Visit.waiting_exit_device_id.remove(),
        Visit.waiting_exit_lane_id.remove(),
    ]
    last = fee.last_cycle
    if last is not None:
        actions += [Visit.last_cycle_start.set(last[0]), Visit.last_cycle_fen.set(last[1])]
    return actions


def _unmatched_exit(
    capture: Capture, lot: config.LotConfig, lane: str, plate: str, now: datetime
) -> GateOutcome:
    """No open visit for this plate: keep the barrier closed and leave a record for the cashier,
    who releases the car by hand (abnormal release, a later change)."""
    outgoing = [gate_commands.display(capture.device_id, (plate, "未找到入场记录", "请联系管理员"), now)]

    def write(tx: TransactWrite) -> None:
        tx.save(
            new_record(
                lot.lot_id,
                RECORD_UNMATCHED_EXIT,
                plate,
                now,
                capture.message_id,
                detail={"device_id": capture.device_id, "message_id": capture.message_id, "lane_id": lane},
            )
        )

    if not _commit(capture, "unmatched_exit", outgoing, now, write):
        return GateOutcome("duplicate")
    return GateOutcome("unmatched_exit", commands=outgoing)


def release_waiting_car(lot_plate: str, visit_id: str, now: datetime) -> list[OutgoingCommand]:
    """A car waiting at an exit whose fee is now settled: open that exit and close the visit."""
    try:
        visit = Visit.get(lot_plate, visit_id, consistent_read=True)
    except Visit.DoesNotExist:
        return []
    if visit.status != INSIDE or not visit.waiting_exit_device_id or not visit.waiting_exit_lane_id:
        return []
    lot = config.lot(visit.lot_id)
    if lot is None:
        return []
    item, recent = identities.lookup(visit.lot_id, visit.plate, limit=3)
    earlier = [v for v in recent if v.visit_id < visit.visit_id]
    priced = pricing.exit_decision(visit, lot, now, earlier)
    decision = priced.decision
    if not decision.open_gate or identities.view(item).locked:
        return []  # still owes, or locked by its owner since it was told to pay (the next capture decides)
    device_id, lane_id = visit.waiting_exit_device_id, visit.waiting_exit_lane_id
    outgoing = [
        gate_commands.open_gate(device_id, lane_id, visit.visit_id, now),
        gate_commands.display(device_id, decision.display, now),
    ]

    def write(tx: TransactWrite) -> None:
        close(
            tx,
            visit,
            lot,
            priced,
            earlier,
            lane_id,
            device_id,
            now,
            extra_condition=Visit.waiting_exit_device_id == device_id,
        )
        for command in outgoing:
            tx.save(command.record(now))

    try:
        counted = occupancy.transact(lot.lot_id, lot.capacity, -1, now, write)
    except TransactWriteError:
        return []  # someone else closed the visit first (the car re-captured at the exit)
    commands.publish(outgoing)
    if counted:
        occupancy.notify(lot.lot_id, now)
    return outgoing


def handle_event(event: GateEvent, now: datetime) -> str:
    """A record of what the gate saw, once per message (the inbox marker in the same
    transaction): tailgating and a remote-control opening are non-system openings (a tailgating
    car's own exit, if captured, is still decided and written as usual; a remote-control opening
    writes no exit), an abnormal capture is its own record."""
    device = registry.info(event.device_id)
    if device is None or device.lot_id is None or device.lane_id is None:
        raise InvalidMessage(f"unknown device {event.device_id}")
    lot = config.lot(device.lot_id)
    if lot is None or device.lane_id not in lot.lanes:
        raise InvalidMessage(f"device {event.device_id} is not installed at a known lane")
    plate = plates.normalize(event.plate) if event.plate else ""
    if event.event == "abnormal_capture":
        record_type, kind = RECORD_ABNORMAL_CAPTURE, "abnormal_capture"
    else:
        record_type = RECORD_NON_SYSTEM_OPENING
        kind = "tailgating" if event.event == "tailgating" else "remote_control"
    record = new_record(
        lot.lot_id,
        record_type,
        plate or "-",
        now,
        event.message_id,
        detail={
            "kind": kind,
            "device_id": event.device_id,
            "lane_id": device.lane_id,
            "direction": lot.lanes[device.lane_id].direction,
            "ref_message_id": event.ref_message_id,
            "device_time": iso(event.device_time) if event.device_time else None,
        },
    )
    try:
        with transaction() as tx:
            inbox.add(tx, event.device_id, event.message_id, "event", kind, now)
            tx.save(record)
    except TransactWriteError as error:
        if failed_condition(error, index=0):
            return "duplicate"
        raise
    return "recorded"
