"""Staff's hands on the gate (domain.md §2.1): abnormal release, remote open, manual match, plate
correction, cash taken at the booth, and closing a stale visit.

Each action is one transaction: the visit's change, its journal postings, its record, the lot's
occupancy, the audit entry (who, when, before and after) and the commands it sends (the outbox),
published after the commit. Each answers with the commands it sent. Decisions at an exit are
the gate's own (`gate.decide_exit`): a car matched or corrected by hand is priced and let out
exactly as if its plate had been read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import (
    config,
    gate,
    gate_commands,
    identities,
    lots,
    occupancy,
    paid_reservations,
    pricing,
    shifts,
)
from chalicelib.parking.domain import booth, plates
from chalicelib.parking.domain import gate as rules
from chalicelib.parking.messages import Capture
from chalicelib.parking.models import (
    CLOSED,
    INSIDE,
    RECORD_ABNORMAL_RELEASE,
    RECORD_ARREARS,
    RECORD_CORRECTION,
    RECORD_MANUAL_MATCH,
    RECORD_NON_SYSTEM_OPENING,
    RECORD_STALE_CLOSED,
    RELEASED,
    Visit,
    lot_plate_key,
    new_record,
)
from chalicelib.platform import audit, commands
from chalicelib.platform.commands import OutgoingCommand
from chalicelib.shared.db import failed_condition, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso

CASH = "cash"
ATTEMPTS = 3


@dataclass
class Done:
    action: str
    visit_id: str | None = None
    result: str | None = None  # the gate's decision at an exit: exited | payment_required
    due_fen: int = 0
    commands: list[OutgoingCommand] = field(default_factory=list)
    cash: booth.CashTaken | None = None  # cash at the booth: handed over, kept, change
    shift_id: str | None = None  # the cashier's shift the money went into


@dataclass(frozen=True)
class Staff:
    """Who acts, for which operator."""

    user_id: str
    operator_id: str


def _lot(staff: Staff, lot_id: str) -> config.LotConfig:
    lots.own(staff.operator_id, lot_id)
    lot = config.lot(lot_id)
    if lot is None:
        raise NotFound("no such lot", "lot_not_found")
    return lot


def _lane(lot: config.LotConfig, lane_id: str, direction: str | None = None) -> tuple[config.LaneInfo, str]:
    lane = lot.lanes.get(lane_id)
    if lane is None:
        raise NotFound("no such lane", "lane_not_found")
    if direction is not None and lane.direction != direction:
        raise Conflict(f"lane {lane_id} is an '{lane.direction}' lane", "wrong_lane_direction")
    if not lane.device_ids:
        raise Conflict(f"lane {lane_id} has no gate device to command", "lane_has_no_device")
    return lane, lane.device_ids[0]


def visit_by_id(lot_id: str, visit_id: str) -> Visit:
    """A visit of this lot by its id (keys from the index, then a consistent read)."""
    for key in Visit.by_id.query(visit_id, limit=1):
        try:
            visit = Visit.get(key.lot_plate, key.visit_id, consistent_read=True)
        except Visit.DoesNotExist:
            break
        if visit.lot_id == lot_id:
            return visit
    raise NotFound("no such visit", "visit_not_found")


def _inside(visit: Visit) -> Visit:
    if visit.status != INSIDE:
        raise Conflict(f"the visit is {visit.status}, not inside", "visit_not_inside")
    return visit


def _plate(value: str, name: str = "plate") -> str:
    plate = plates.normalize(value)
    if not plate or plates.is_unreadable(plate) or len(plate) > 16:
        raise Invalid(f"{name} must be a readable plate", "invalid_plate")
    return plate


def _earlier(visit: Visit) -> list[Visit]:
    recent = pricing.earlier_visits(visit.lot_id, visit.plate, limit=4)
    return [v for v in recent if v.visit_id < visit.visit_id][:2]


def _staff_capture(device_id: str, lane_id: str, plate: str, color: int, action_id: str) -> Capture:
    """What staff's decision stands in for: a capture at that exit with the right plate. Its
    message id is the action's, so the gate's inbox marker keeps the action once."""
    return Capture(action_id, device_id, lane_id, "out", plate, color, 0, None, None, None)


def _audited(visit: Visit) -> dict[str, Any]:
    return {
        "plate": visit.plate,
        "status": visit.status,
        "total_fen": int(visit.total_fen),
        "paid_fen": int(visit.paid_fen),
        "discount_fen": int(visit.discount_fen),
    }


def _publish(outgoing: list[OutgoingCommand], lot_id: str, counted: bool, now: datetime) -> None:
    commands.publish(outgoing)
    if counted:
        occupancy.notify(lot_id, now)


# --- an exit decided by hand -----------------------------------------------------------------


def _decide_at_exit(
    staff: Staff,
    lot: config.LotConfig,
    lane_id: str,
    device_id: str,
    load: Callable[[], Visit],
    action: str,
    record: Callable[[Visit, str], dict[str, Any]],
    reason: str | None,
    now: datetime,
) -> Done:
    for attempt in range(ATTEMPTS):
        visit = _inside(load())
        action_id = sortable_id("op", now)
        capture = _staff_capture(device_id, lane_id, visit.plate, int(visit.plate_color), action_id)
        detail = record(visit, action_id)
        record_type = RECORD_MANUAL_MATCH if action == "manual_match" else RECORD_CORRECTION

        def also(
            tx: TransactWrite,
            visit: Visit = visit,
            detail: dict[str, Any] = detail,
            action_id: str = action_id,
            record_type: str = record_type,
        ) -> None:
            tx.save(
                new_record(
                    lot.lot_id,
                    record_type,
                    visit.plate,
                    now,
                    action_id,
                    visit_id=visit.visit_id,
                    detail=detail,
                )
            )
            audit.add(
                tx,
                staff.user_id,
                staff.operator_id,
                "visit",
                visit.visit_id,
                action,
                {**_audited(visit), "read_plate": detail.get("old")},
                {**_audited(visit), "plate": detail.get("new"), "lane_id": lane_id},
                reason,
                now,
            )

        try:
            outcome = gate.decide_exit(
                capture, lot, lane_id, visit, _earlier(visit), now, also=also, kind="staff"
            )
        except gate.VisitChanged:
            if attempt + 1 == ATTEMPTS:
                raise Conflict("the visit changed meanwhile; try again", "visit_changed") from None
            continue
        return Done(action, visit.visit_id, outcome.result, outcome.due_fen, outcome.commands)
    raise AssertionError("unreachable")


def match(
    staff: Staff,
    lot_id: str,
    lane_id: str,
    visit_id: str,
    read_plate: str | None,
    reason: str | None,
    now: datetime,
) -> Done:
    """Manual match (人工匹配): the car at this exit is the open visit `visit_id` (its plate was
    unreadable or misread; placeholder-plate visits included). The visit keeps its id; the gate
    decides its exit as if its plate had been read."""
    lot = _lot(staff, lot_id)
    _, device_id = _lane(lot, lane_id, "out")
    read = plates.normalize(read_plate) if read_plate else None

    def record(visit: Visit, action_id: str) -> dict[str, Any]:
        return {
            "who": staff.user_id,
            "at": iso(now),
            "lane_id": lane_id,
            "old": read,
            "new": visit.plate,
            "reason": reason,
        }

    return _decide_at_exit(
        staff,
        lot,
        lane_id,
        device_id,
        lambda: visit_by_id(lot_id, visit_id),
        "manual_match",
        record,
        reason,
        now,
    )


def correct(
    staff: Staff,
    lot_id: str,
    lane_id: str,
    read_plate: str,
    plate: str,
    reason: str | None,
    now: datetime,
) -> Done:
    """Plate correction (校正) at a lane. At an entry: the visit recorded under the misread plate
    is moved to the right one (same visit id, a record of old and new). At an exit: the gate
    decides for the right plate's open visit, as if it had been read."""
    lot = _lot(staff, lot_id)
    lane, device_id = _lane(lot, lane_id)
    old, new = plates.normalize(read_plate), _plate(plate)
    if old == new:
        raise Invalid("the corrected plate is the plate read", "invalid_plate")

    def record(visit: Visit, action_id: str) -> dict[str, Any]:
        return {
            "who": staff.user_id,
            "at": iso(now),
            "lane_id": lane_id,
            "direction": "out",
            "old": old,
            "new": new,
        }

    if lane.direction == "out":

        def load() -> Visit:
            recent = pricing.earlier_visits(lot_id, new, limit=1)
            if not recent or recent[0].status != INSIDE:
                raise NotFound(f"{new} has no open visit at this lot", "visit_not_found")
            return recent[0]

        return _decide_at_exit(staff, lot, lane_id, device_id, load, "plate_correction", record, reason, now)
    return _correct_entry(staff, lot, lane_id, device_id, old, new, reason, now)


def _correct_entry(
    staff: Staff,
    lot: config.LotConfig,
    lane_id: str,
    device_id: str,
    old: str,
    new: str,
    reason: str | None,
    now: datetime,
) -> Done:
    recent = pricing.earlier_visits(lot.lot_id, old, limit=1)
    if not recent or recent[0].status != INSIDE:
        raise NotFound(f"{old} has no open visit at this lot", "visit_not_found")
    visit = recent[0]
    target = pricing.earlier_visits(lot.lot_id, new, limit=1)
    if target and target[0].status == INSIDE:
        raise Conflict(f"{new} is already inside this lot", "plate_inside")
    action_id = sortable_id("op", now)
    correction = {"old": old, "new": new, "who": staff.user_id, "at": iso(now), "lane_id": lane_id}
    moved = Visit.from_raw_data(visit.serialize())
    moved.lot_plate = lot_plate_key(lot.lot_id, new)
    moved.plate = new
    moved.quote_id = None  # a quote priced the misread plate: a new one is asked for the right one
    moved.corrections = [*(visit.corrections or []), correction]
    outgoing = [gate_commands.display(device_id, (new, "车牌已校正"), now)]
    paid = int(visit.paid_fen)

    def write(tx: TransactWrite) -> None:
        tx.delete(visit, condition=(Visit.status == INSIDE) & (Visit.paid_fen == paid))
        tx.save(moved, condition=Visit.visit_id.does_not_exist())
        tx.save(
            new_record(
                lot.lot_id,
                RECORD_CORRECTION,
                new,
                now,
                action_id,
                visit_id=visit.visit_id,
                detail={**correction, "direction": "in", "reason": reason},
            )
        )
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            "visit",
            visit.visit_id,
            "plate_correction",
            _audited(visit),
            {**_audited(visit), "plate": new},
            reason,
            now,
        )
        for command in outgoing:
            tx.save(command.record(now))

    try:
        occupancy.transact(lot.lot_id, lot.capacity, 0, now, write)
    except TransactWriteError as error:
        if failed_condition(error):
            raise Conflict("the visit changed meanwhile; try again", "visit_changed") from error
        raise
    _publish(outgoing, lot.lot_id, False, now)
    return Done("plate_correction", visit.visit_id, commands=outgoing)


# --- money at the booth ----------------------------------------------------------------------


def take_cash(
    staff: Staff,
    lot_id: str,
    visit_id: str,
    now: datetime,
    *,
    amount_fen: int | None = None,
    tendered_fen: int | None = None,
    confirmed: bool = False,
) -> Done:
    """Cash a cashier takes for a visit (收费员收费), in their open shift at the lot (409
    `no_open_shift` without one): what was handed over, what is kept and the change
    (`domain.booth.take`); an amount above the lot's threshold only when `confirmed` (409
    `confirmation_required`, nothing written). The kept cash is a payment in the journal
    (provider "cash", with its shift) and in the shift's totals, in one transaction; a car waiting
    at an exit with nothing left to pay is let out, as after any payment."""
    lot_item = lots.own(staff.operator_id, lot_id)
    lot = config.lot(lot_id)
    if lot is None:
        raise NotFound("no such lot", "lot_not_found")
    for attempt in range(ATTEMPTS):
        visit = _inside(visit_by_id(lot_id, visit_id))
        shift = shifts.require_open(lot_id, staff.user_id)
        priced = pricing.exit_decision(visit, lot, now, _earlier(visit))
        try:
            taken = booth.take(priced.decision.due_fen, tendered_fen, amount_fen)
        except booth.BadTender as error:
            raise Invalid(str(error), "invalid_cash") from error
        shifts.require_confirmed(lot_item.cash_confirm_above_fen, taken.kept_fen, confirmed)
        split = ledger.PaymentSplit(taken.applied_fen, taken.excess_fen)
        action_id = sortable_id("cash", now)
        posting = ledger.parking_payment(
            action_id,
            provider=CASH,
            lot_id=lot_id,
            operator_id=lot.operator_id,
            visit_id=visit.visit_id,
            split=split,
            at=now,
            on_time=True,
            memo={
                "source": "staff",
                "method": CASH,
                "who": staff.user_id,
                "shift_id": shift.shift_id,
                "tendered_fen": taken.tendered_fen,
                "change_fen": taken.change_fen,
            },
        )
        delta = booth.ShiftTotals().plus_payment(taken).minus(booth.ShiftTotals())
        paid = int(visit.paid_fen)
        try:
            with transaction() as tx:
                tx.update(
                    visit,
                    actions=[
                        Visit.paid_fen.add(split.applied_fen),
                        Visit.overpaid_fen.add(split.excess_fen),
                        Visit.cash_fen.add(taken.kept_fen),
                        Visit.paid_at.set(now),
                        Visit.priced_until.set(now),
                    ],
                    condition=(Visit.status == INSIDE) & (Visit.paid_fen == paid),
                )
                ledger.add(tx, posting, lot.timezone)
                shifts.add(tx, shift, delta)
                audit.add(
                    tx,
                    staff.user_id,
                    staff.operator_id,
                    "visit",
                    visit.visit_id,
                    "cash_payment",
                    _audited(visit),
                    {
                        **_audited(visit),
                        "paid_fen": paid + split.applied_fen,
                        "cash_fen": taken.kept_fen,
                        "tendered_fen": taken.tendered_fen,
                        "change_fen": taken.change_fen,
                        "shift_id": shift.shift_id,
                    },
                    None,
                    now,
                )
        except TransactWriteError as error:
            if failed_condition(error) and attempt + 1 < ATTEMPTS:
                continue
            raise Conflict("the visit or the shift changed meanwhile; try again", "visit_changed") from error
        released = gate.release_waiting_car(visit.lot_plate, visit.visit_id, now)
        return Done(
            "cash_payment",
            visit.visit_id,
            "exited" if released else None,
            due_fen=max(0, priced.decision.due_fen - taken.applied_fen),  # what is still owed
            commands=released,
            cash=taken,
            shift_id=shift.shift_id,
        )
    raise AssertionError("unreachable")


# --- releases and openings -------------------------------------------------------------------


def release(
    staff: Staff,
    lot_id: str,
    lane_id: str,
    *,
    visit_id: str | None,
    plate: str | None,
    amount_fen: int,
    reason: str,
    now: datetime,
    kind: str = "abnormal_release",
    as_arrears: bool = False,
) -> Done:
    """Abnormal release (异常放行) of the car at this exit: the cash taken (`amount_fen`, into the
    journal) counts toward what it owes and the rest is waived, or with `as_arrears` stays owed
    as the plate's arrears (paid with its next fee, counted toward the automatic blacklist); the
    barrier opens. No normal exit is written (the visit ends `released`). A car whose entry
    cannot be found is released with a synthesised entry so the books balance."""
    lot = _lot(staff, lot_id)
    _, device_id = _lane(lot, lane_id, "out")
    for attempt in range(ATTEMPTS):
        visit: Visit | None = None
        if visit_id:
            visit = _inside(visit_by_id(lot_id, visit_id))
        elif plate:
            recent = pricing.earlier_visits(lot_id, plates.normalize(plate), limit=1)
            visit = recent[0] if recent and recent[0].status == INSIDE else None
        # Cash taken in a release goes into the cashier's open shift (required then); a release
        # without cash is counted in the actor's shift when one is open.
        shift = (
            shifts.require_open(lot_id, staff.user_id)
            if amount_fen
            else shifts.current(lot_id, staff.user_id)
        )
        try:
            return _release_once(
                staff, lot, lane_id, device_id, visit, plate, amount_fen, reason, kind, now, shift, as_arrears
            )
        except TransactWriteError as error:
            if failed_condition(error) and attempt + 1 < ATTEMPTS:
                continue
            raise Conflict("the visit changed meanwhile; try again", "visit_changed") from error
    raise AssertionError("unreachable")


def _release_once(
    staff: Staff,
    lot: config.LotConfig,
    lane_id: str,
    device_id: str,
    visit: Visit | None,
    plate_text: str | None,
    amount_fen: int,
    reason: str,
    kind: str,
    now: datetime,
    shift: shifts.CashierShift | None = None,
    as_arrears: bool = False,
) -> Done:
    action_id = sortable_id("op", now)
    writes: list[Callable[[TransactWrite], object]] = []
    owed_fen = 0  # with `as_arrears`: what the cash leaves of the fee, the plate's arrears
    if visit is not None:
        priced = pricing.exit_decision(visit, lot, now, _earlier(visit))
        fee = priced.decision.fee
        paid = int(visit.paid_fen)
        discount = int(visit.discount_fen) + priced.discount_fen
        split = rules.release_split(fee.total_fen, paid, discount, amount_fen)
        if as_arrears and split.waived_fen:
            owed_fen, split = split.waived_fen, replace(split, waived_fen=0)
            identity, _ = identities.lookup(lot.lot_id, visit.plate, limit=0)
        plate, target, synthesised, delta = visit.plate, visit, False, -1
        before: dict[str, Any] | None = _audited(visit)
        fee_fen = fee.total_fen
        # Not a normal exit: status `released`, and not among the exits (`exited_lot` stays unset).
        actions = gate.close_actions(fee, None, lane_id, device_id, now)
        actions[0] = Visit.status.set(RELEASED)
        actions += [
            Visit.paid_fen.add(split.applied_fen),
            Visit.overpaid_fen.add(split.excess_fen),
            Visit.cash_fen.add(amount_fen),
            Visit.discount_fen.set(discount + split.waived_fen),
            Visit.abnormal_reason.set(reason),
            Visit.exit_remark.set(f"{'远程开闸' if kind == 'remote_open' else '异常放行'}: {reason}"),
        ]

        def update(tx: TransactWrite) -> None:
            tx.update(target, actions=actions, condition=(Visit.status == INSIDE) & (Visit.paid_fen == paid))
            identities.free_space(tx, target)
            paid_reservations.on_close(tx, target, lot, 0, now)  # staff's release: its prepaid goes back
            if owed_fen:  # left on the visit's receivable, owed by the plate
                identities.owe(tx, target, lot, lane_id, owed_fen, identity, now, kind="abnormal_release")

        writes.append(update)
    else:
        # No entry to be found: one is synthesised (补录入场) so the cash has a visit to belong to.
        plate = plates.normalize(plate_text or "")
        if not plate or plates.is_unreadable(plate):
            plate = plates.placeholder(now)
        fee_fen, paid, discount, synthesised, delta, before = amount_fen, 0, 0, True, 0, None
        split = rules.release_split(amount_fen, 0, 0, amount_fen)
        target = Visit(
            lot_plate_key(lot.lot_id, plate),
            sortable_id("v", now),
            lot_id=lot.lot_id,
            plate=plate,
            status=RELEASED,
            entered_at=now,
            entry_lane_id="",
            entry_device_id="",
            entry_message_id=action_id,
            entry_remark="补录入场: 未找到入场记录 (异常放行)",
            exited_at=now,
            exit_lane_id=lane_id,
            exit_device_id=device_id,
            exit_remark=f"{'远程开闸' if kind == 'remote_open' else '异常放行'}: {reason}",
            total_fen=amount_fen,
            paid_fen=amount_fen,
            cash_fen=amount_fen,
            abnormal_reason=reason,
        )
        writes.append(lambda tx: tx.save(target, condition=Visit.visit_id.does_not_exist()))
    cash = ledger.parking_payment(
        action_id,
        provider=CASH,
        lot_id=lot.lot_id,
        operator_id=lot.operator_id,
        visit_id=target.visit_id,
        split=ledger.PaymentSplit(split.applied_fen, split.excess_fen),
        at=now,
        on_time=True,
        memo={
            "source": "staff",
            "method": CASH,
            "who": staff.user_id,
            "shift_id": shift.shift_id if shift is not None else None,
            "release": kind,
        },
    )
    closed = ledger.visit_closed(
        target.visit_id,
        lot_id=lot.lot_id,
        operator_id=lot.operator_id,
        total_fen=fee_fen,
        discount_fen=discount + split.waived_fen,
        paid_fen=paid + split.applied_fen,
        at=now,
        reason=kind,
    )
    outgoing = [
        gate_commands.open_gate(device_id, lane_id, target.visit_id, now),
        gate_commands.display(device_id, (plate, "一路顺风"), now),
    ]
    detail = {
        "who": staff.user_id,
        "reason": reason,
        "lane_id": lane_id,
        "device_id": device_id,
        "fee_fen": fee_fen,
        "paid_before_fen": paid,
        "cash_fen": amount_fen,
        "waived_fen": split.waived_fen,
        "arrears_fen": owed_fen,
        "synthesised_entry": synthesised,
        "correlation_id": outgoing[0].correlation_id,
        "shift_id": shift.shift_id if shift is not None else None,
    }
    after = {
        "plate": plate,
        "status": RELEASED,
        "total_fen": fee_fen,
        "paid_fen": paid + split.applied_fen,
        "cash_fen": amount_fen,
        "waived_fen": split.waived_fen,
        "arrears_fen": owed_fen,
    }

    def write(tx: TransactWrite) -> None:
        for part in writes:
            part(tx)
        ledger.add(tx, cash, lot.timezone)
        ledger.add(tx, closed, lot.timezone)
        if shift is not None:
            sums = booth.ShiftTotals().plus_release(amount_fen, split.waived_fen)
            shifts.add(tx, shift, sums.minus(booth.ShiftTotals()))
        tx.save(
            new_record(
                lot.lot_id,
                RECORD_ABNORMAL_RELEASE,
                plate,
                now,
                action_id,
                visit_id=target.visit_id,
                detail={**detail, "kind": kind},
            )
        )
        if kind == "remote_open":
            tx.save(
                new_record(
                    lot.lot_id,
                    RECORD_NON_SYSTEM_OPENING,
                    plate,
                    now,
                    action_id,
                    visit_id=target.visit_id,
                    detail={**detail, "kind": "remote_open"},
                )
            )
        if split.waived_fen:
            tx.save(
                new_record(
                    lot.lot_id,
                    RECORD_ARREARS,
                    plate,
                    now,
                    action_id,
                    visit_id=target.visit_id,
                    detail={
                        "who": staff.user_id,
                        "reason": reason,
                        "unpaid_fen": split.waived_fen,
                        "fee_fen": fee_fen,
                    },
                )
            )
        audit.add(
            tx, staff.user_id, staff.operator_id, "visit", target.visit_id, kind, before, after, reason, now
        )
        for command in outgoing:
            tx.save(command.record(now))

    counted = occupancy.transact(lot.lot_id, lot.capacity, delta, now, write)
    _publish(outgoing, lot.lot_id, counted, now)
    return Done(
        kind, target.visit_id, "released", commands=outgoing, shift_id=shift.shift_id if shift else None
    )


def open_lane(
    staff: Staff,
    lot_id: str,
    lane_id: str,
    *,
    reason: str,
    visit_id: str | None,
    plate: str | None,
    amount_fen: int,
    now: datetime,
) -> Done:
    """Remote open (远程开闸) of a lane's barrier: a non-system-opening record; at an exit, naming
    the car (visit or plate) settles it as an abnormal release does."""
    lot = _lot(staff, lot_id)
    lane, device_id = _lane(lot, lane_id)
    if lane.direction == "out" and (visit_id or plate):
        return release(
            staff,
            lot_id,
            lane_id,
            visit_id=visit_id,
            plate=plate,
            amount_fen=amount_fen,
            reason=reason,
            now=now,
            kind="remote_open",
        )
    action_id = sortable_id("op", now)
    outgoing = [gate_commands.open_gate(device_id, lane_id, action_id, now)]
    detail = {
        "kind": "remote_open",
        "who": staff.user_id,
        "reason": reason,
        "lane_id": lane_id,
        "device_id": device_id,
        "correlation_id": outgoing[0].correlation_id,
    }

    def write(tx: TransactWrite) -> None:
        tx.save(
            new_record(
                lot_id,
                RECORD_NON_SYSTEM_OPENING,
                plates.normalize(plate or "") or "-",
                now,
                action_id,
                detail=detail,
            )
        )
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            "lane",
            lane_id,
            "remote_open",
            None,
            {"device_id": device_id, "correlation_id": outgoing[0].correlation_id},
            reason,
            now,
        )
        for command in outgoing:
            tx.save(command.record(now))

    occupancy.transact(lot_id, lot.capacity, 0, now, write)
    _publish(outgoing, lot_id, False, now)
    return Done("remote_open", None, "opened", commands=outgoing)


def close_stale(staff: Staff, lot_id: str, visit_id: str, reason: str, now: datetime) -> Done:
    """A car that left without a capture: its visit is closed by hand (status `closed`), what it
    paid is its fee (nothing more is charged), and the lot's count goes down."""
    lot = _lot(staff, lot_id)
    for attempt in range(ATTEMPTS):
        visit = _inside(visit_by_id(lot_id, visit_id))
        paid = int(visit.paid_fen)
        action_id = sortable_id("op", now)
        closed = ledger.visit_closed(
            visit.visit_id,
            lot_id=lot_id,
            operator_id=lot.operator_id,
            total_fen=paid,
            discount_fen=0,
            paid_fen=paid,
            at=now,
            reason="stale_closed",
        )

        def write(
            tx: TransactWrite,
            visit: Visit = visit,
            paid: int = paid,
            closed: Any = closed,
            action_id: str = action_id,
        ) -> None:
            tx.update(
                visit,
                actions=[
                    Visit.status.set(CLOSED),
                    Visit.inside_lot.remove(),
                    Visit.total_fen.set(paid),
                    Visit.abnormal_reason.set(reason),
                    Visit.waiting_exit_device_id.remove(),
                    Visit.waiting_exit_lane_id.remove(),
                ],
                condition=(Visit.status == INSIDE) & (Visit.paid_fen == paid),
            )
            identities.free_space(tx, visit)
            paid_reservations.on_close(tx, visit, lot, 0, now)  # nothing charged: its prepaid goes back
            ledger.add(tx, closed, lot.timezone)
            tx.save(
                new_record(
                    lot_id,
                    RECORD_STALE_CLOSED,
                    visit.plate,
                    now,
                    action_id,
                    visit_id=visit.visit_id,
                    detail={"who": staff.user_id, "reason": reason, "entered_at": iso(visit.entered_at)},
                )
            )
            audit.add(
                tx,
                staff.user_id,
                staff.operator_id,
                "visit",
                visit.visit_id,
                "close_stale",
                _audited(visit),
                {**_audited(visit), "status": CLOSED, "total_fen": paid},
                reason,
                now,
            )

        try:
            counted = occupancy.transact(lot_id, lot.capacity, -1, now, write)
        except TransactWriteError as error:
            if failed_condition(error) and attempt + 1 < ATTEMPTS:
                continue
            raise Conflict("the visit changed meanwhile; try again", "visit_changed") from error
        _publish([], lot_id, counted, now)
        return Done("close_stale", visit.visit_id, "closed")
    raise AssertionError("unreachable")
