"""Staff and drivers manage who the car is (docs/identities.md): the lot's identity options,
card types, cards (a card with fewer spaces than plates is a several-car group), black and white
list entries and visitor passes, the driver's lock. Each change writes the staff item, the plates'
identity items the gate reads and the audit entry in one transaction; another operator's lot
answers 404."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.parking import config, lots, plates, tariffs
from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain.reservations import Offer
from chalicelib.parking.identity_models import (
    CARD,
    IDENTITY_KEY,
    SNAP_KEYS,
    TYPE,
    LotIdentity,
    PlateIdentity,
    ensure,
    item_key,
)
from chalicelib.parking.models import Lot, lot_plate_key
from chalicelib.platform import audit
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso, iso_or_none, parse_iso

MAX_PLATES = 20


@dataclass(frozen=True)
class Staff:
    user_id: str
    operator_id: str


def _plate(text: str) -> str:
    return plates.clean(text)


def _plate_ref(lot_id: str, plate: str) -> PlateIdentity:
    return PlateIdentity(lot_plate_key(lot_id, plate), IDENTITY_KEY)


def _touch(lot: Lot) -> list[Any]:
    return [PlateIdentity.operator_id.set(lot.operator_id)]


def _item(lot_id: str, kind: str, item_id: str) -> LotIdentity:
    item = get_or_none(LotIdentity, lot_id, item_key(kind, item_id), consistent=True)
    if item is None:
        raise NotFound(f"no such {kind}", f"{kind}_not_found")
    return item


def view(item: LotIdentity) -> dict[str, Any]:
    out = {"id": item.item_id, **item.data}
    if item.kind == CARD:
        out["remaining_count"] = int(item.remaining_count or 0)
        out["balance_fen"] = int(item.balance_fen or 0)
        out["inside"] = {p: dict(v) for p, v in (item.inside.as_dict() if item.inside else {}).items()}
    out["updated_at"] = iso(item.updated_at)
    return out


def listing(staff: Staff, lot_id: str, kind: str) -> list[dict[str, Any]]:
    lots.own(staff.operator_id, lot_id)
    return [view(i) for i in LotIdentity.query(lot_id, LotIdentity.key.startswith(f"{kind}#"), limit=500)]


def get_one(staff: Staff, lot_id: str, kind: str, item_id: str) -> dict[str, Any]:
    lots.own(staff.operator_id, lot_id)
    return view(_item(lot_id, kind, item_id))


# --- lot options -------------------------------------------------------------------------------


def options_of(staff: Staff, lot_id: str) -> dict[str, Any]:
    lot = lots.own(staff.operator_id, lot_id)
    return rules.Options.from_dict(lot.identity_options).to_dict()


def set_options(staff: Staff, lot_id: str, body: Any, now: datetime) -> dict[str, Any]:
    lot = lots.own(staff.operator_id, lot_id)
    before = rules.Options.from_dict(lot.identity_options)
    try:
        precedence = (
            rules.check_precedence(body.precedence) if body.precedence is not None else before.precedence
        )
        patterns = (
            rules.check_patterns(body.special_patterns)
            if body.special_patterns is not None
            else before.special_patterns
        )
    except Exception as error:  # a bad order or pattern is the caller's
        raise Invalid(str(error), "invalid_identity_options") from error
    after = rules.Options(
        precedence=precedence,
        special_patterns=patterns,
        open_gate=body.open_gate if body.open_gate is not None else before.open_gate,
        open_gate_lanes=tuple(body.open_gate_lanes)
        if body.open_gate_lanes is not None
        else before.open_gate_lanes,
        arrears_blacklist_after=body.arrears_blacklist_after
        if body.arrears_blacklist_after is not None
        else before.arrears_blacklist_after,
        full_group_blocks_vip=body.full_group_blocks_vip
        if body.full_group_blocks_vip is not None
        else before.full_group_blocks_vip,
        reservation_approval=body.reservation_approval or before.reservation_approval,
        paid_reservation=Offer(body.paid_reservation.fee_fen, body.paid_reservation.prepaid_fen)
        if body.paid_reservation is not None
        else before.paid_reservation,
    )
    known = {lane.lane_id for lane in lots.lanes(lot_id)}
    unknown = sorted(set(after.open_gate_lanes) - known)
    if unknown:
        raise Invalid(f"unknown lanes {unknown}", "unknown_lane")
    with transaction() as tx:
        tx.update(
            lot,
            actions=[Lot.identity_options.set(after.to_dict()), Lot.updated_at.set(now)],
            condition=Lot.operator_id == staff.operator_id,
        )
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            "lot",
            lot_id,
            "identity_options",
            before.to_dict(),
            after.to_dict(),
            None,
            now,
        )
    config.clear_cache()
    return after.to_dict()


# --- card types ----------------------------------------------------------------------------------


def put_type(staff: Staff, lot_id: str, type_id: str, body: Any, now: datetime) -> dict[str, Any]:
    lots.own(staff.operator_id, lot_id)
    if body.tariff_id:
        tariffs.latest(staff.operator_id, body.tariff_id)  # exists and is this operator's
    if body.lanes is not None:
        known = {lane.lane_id for lane in lots.lanes(lot_id)}
        unknown = sorted(set(body.lanes) - known)
        if unknown:
            raise Invalid(f"unknown lanes {unknown}", "unknown_lane")
    old = get_or_none(LotIdentity, lot_id, item_key(TYPE, type_id), consistent=True)
    data = {"name": body.name, "lanes": body.lanes, "tariff_id": body.tariff_id}
    item = LotIdentity(
        lot_id,
        item_key(TYPE, type_id),
        kind=TYPE,
        operator_id=staff.operator_id,
        data=data,
        created_at=old.created_at if old else now,
        updated_at=now,
        created_by=old.created_by if old else staff.user_id,
    )
    with transaction() as tx:
        tx.save(item)
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            "card_type",
            f"{lot_id}/{type_id}",
            "put",
            old.data if old else None,
            data,
            None,
            now,
        )
    config.clear_cache()
    return view(item)


# --- cards and groups ------------------------------------------------------------------------------


def _card_data(lot_id: str, card_id: str, body: Any) -> dict[str, Any]:
    if body.kind not in rules.CARD_KINDS:
        raise Invalid(f"kind must be one of {', '.join(rules.CARD_KINDS)}", "invalid_card_kind")
    if get_or_none(LotIdentity, lot_id, item_key(TYPE, body.type_id)) is None:
        raise NotFound("no such card type", "type_not_found")
    cleaned = sorted({_plate(p) for p in body.plates})
    if not 1 <= len(cleaned) <= MAX_PLATES:
        raise Invalid(f"a card has 1 to {MAX_PLATES} plates", "invalid_plates")
    spaces = body.spaces if body.spaces is not None else len(cleaned)
    if spaces < 1:
        raise Invalid("a card has at least one space", "invalid_spaces")
    if body.kind == rules.STORED_VALUE and spaces < len(cleaned):
        # The exit's debit and the group's freed space would be two writes of one card item.
        raise Invalid("a stored-value card is not a several-car group", "invalid_spaces")
    if body.valid_from and body.valid_until and body.valid_until <= body.valid_from:
        raise Invalid("valid_until must be after valid_from", "invalid_window")
    return {
        "card_id": card_id,
        "type_id": body.type_id,
        "kind": body.kind,
        "owner": body.owner,
        "plates": cleaned,
        "spaces": spaces,
        "valid_from": iso_or_none(body.valid_from),
        "valid_until": iso_or_none(body.valid_until),
    }


def _snap(data: dict[str, Any]) -> dict[str, Any]:
    return {k: data.get(k) for k in SNAP_KEYS}


def save_card(staff: Staff, lot_id: str, card_id: str | None, body: Any, now: datetime) -> dict[str, Any]:
    """Create (no `card_id`) or replace a card; the plates it no longer covers lose it."""
    lot = lots.own(staff.operator_id, lot_id)
    old = _item(lot_id, CARD, card_id) if card_id else None
    card_id = card_id or sortable_id("card", now)
    data = _card_data(lot_id, card_id, body)
    if old is not None and old.data.get("lent"):  # windows lent to guests stay (shared spaces)
        data["lent"] = old.data["lent"]
    if old is not None and int(old.balance_fen or 0) > 0 and data["kind"] != rules.STORED_VALUE:
        raise Conflict("the card still holds a balance: it stays a stored-value card", "card_has_balance")
    before_plates = set(old.data.get("plates") or []) if old else set()
    item = LotIdentity(
        lot_id,
        item_key(CARD, card_id),
        kind=CARD,
        operator_id=staff.operator_id,
        data=data,
        inside=old.inside.as_dict() if old and old.inside else {},
        remaining_count=body.count if body.count is not None else (int(old.remaining_count) if old else 0),
        balance_fen=old.balance_fen if old else None,  # changed only by top-ups and exits
        version=(int(old.version or 0) + 1) if old else 1,
        created_at=old.created_at if old else now,
        updated_at=now,
        created_by=old.created_by if old else staff.user_id,
    )
    condition: Any = LotIdentity.key.does_not_exist()
    if old is not None:
        condition = LotIdentity.version == int(old.version or 0)
    snap = _snap(data)
    for plate in data["plates"]:
        ensure(lot_plate_key(lot_id, plate), lot.operator_id, now)
    try:
        with transaction() as tx:
            tx.save(item, condition=condition)
            for plate in data["plates"]:
                tx.update(
                    _plate_ref(lot_id, plate),
                    actions=[
                        PlateIdentity.card.set(snap),
                        PlateIdentity.card_id.set(card_id),
                        PlateIdentity.updated_at.set(now),
                        *_touch(lot),
                    ],
                    condition=PlateIdentity.card_id.does_not_exist() | (PlateIdentity.card_id == card_id),
                )
            for plate in sorted(before_plates - set(data["plates"])):
                _drop_card(tx, lot_id, plate, card_id, now)
            audit.add(
                tx,
                staff.user_id,
                staff.operator_id,
                "card",
                f"{lot_id}/{card_id}",
                "update" if old else "create",
                view(old) if old else None,
                {**data, "count": item.remaining_count},
                None,
                now,
            )
    except TransactWriteError as error:
        if failed_condition(error):
            raise Conflict(
                "a plate is on another card of this lot, or the card changed meanwhile", "card_conflict"
            ) from error
        raise
    return view(item)


def _drop_card(tx: TransactWrite, lot_id: str, plate: str, card_id: str, now: datetime) -> None:
    tx.update(
        _plate_ref(lot_id, plate),
        actions=[
            PlateIdentity.card.remove(),
            PlateIdentity.card_id.remove(),
            PlateIdentity.updated_at.set(now),
        ],
        condition=PlateIdentity.card_id == card_id,
    )


def delete_card(staff: Staff, lot_id: str, card_id: str, now: datetime) -> None:
    """Cancel a card: its plates are temporary from now (cars inside keep their visit's identity)."""
    lots.own(staff.operator_id, lot_id)
    old = _item(lot_id, CARD, card_id)
    if int(old.balance_fen or 0) > 0:  # what the holder loaded is owed to them: not cancelled here
        raise Conflict("the card still holds a balance", "card_has_balance")
    if any(parse_iso(str(w["ends"])) > now for w in old.data.get("lent") or []):
        raise Conflict("the card lends a window to a guest: withdraw it first", "card_lends_space")
    try:
        with transaction() as tx:
            tx.delete(old, condition=LotIdentity.version == int(old.version or 0))
            for plate in old.data.get("plates") or []:
                _drop_card(tx, lot_id, plate, card_id, now)
            audit.add(
                tx,
                staff.user_id,
                staff.operator_id,
                "card",
                f"{lot_id}/{card_id}",
                "delete",
                view(old),
                None,
                None,
                now,
            )
    except TransactWriteError as error:
        if failed_condition(error):
            raise Conflict("the card changed meanwhile: read it again", "card_conflict") from error
        raise


# --- list entries and visitor passes --------------------------------------------------------------


def add_window(staff: Staff, lot_id: str, store_kind: str, body: Any, now: datetime) -> dict[str, Any]:
    """A black or white list entry or a visitor pass, with its window; it reverts by itself when
    the window ends (the gate compares `now` to it)."""
    lot = lots.own(staff.operator_id, lot_id)
    kind = body.kind
    if kind not in ("black", "white", "visitor"):
        raise Invalid("kind must be black, white or visitor", "invalid_list_kind")
    if body.starts and body.ends and body.ends <= body.starts:
        raise Invalid("ends must be after starts", "invalid_window")
    plate = _plate(body.plate)
    entry_id = sortable_id("bl" if kind == "black" else "wl" if kind == "white" else "vp", now)
    window = {
        "kind": kind,
        "starts": iso_or_none(body.starts),
        "ends": iso_or_none(body.ends),
        "reason": body.reason or "",
        "single_use": bool(body.single_use) and kind == "visitor",
    }
    data = {**window, "plate": plate}
    item = LotIdentity(
        lot_id,
        item_key(store_kind, entry_id),
        kind=store_kind,
        operator_id=staff.operator_id,
        data=data,
        created_at=now,
        updated_at=now,
        created_by=staff.user_id,
    )
    ensure(lot_plate_key(lot_id, plate), lot.operator_id, now)
    with transaction() as tx:
        tx.save(item, condition=LotIdentity.key.does_not_exist())
        tx.update(
            _plate_ref(lot_id, plate),
            actions=[
                PlateIdentity.windows[entry_id].set(window),
                PlateIdentity.updated_at.set(now),
                *_touch(lot),
            ],
        )
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            store_kind,
            f"{lot_id}/{entry_id}",
            "create",
            None,
            data,
            body.reason,
            now,
        )
    return view(item)


def remove_window(staff: Staff, lot_id: str, store_kind: str, entry_id: str, now: datetime) -> None:
    lots.own(staff.operator_id, lot_id)
    old = _item(lot_id, store_kind, entry_id)
    plate = str(old.data.get("plate"))
    with transaction() as tx:
        tx.delete(old)
        tx.update(
            _plate_ref(lot_id, plate),
            actions=[PlateIdentity.windows[entry_id].remove(), PlateIdentity.updated_at.set(now)],
        )
        audit.add(
            tx,
            staff.user_id,
            staff.operator_id,
            store_kind,
            f"{lot_id}/{entry_id}",
            "delete",
            view(old),
            None,
            None,
            now,
        )


# --- lock car (driver) -------------------------------------------------------------------------------


def set_lock(user_id: str, lot_id: str, plate_text: str, locked: bool, now: datetime) -> dict[str, Any]:
    """The owner locks (锁车) or unlocks the car at a lot: a locked car is held at every exit."""
    plate = _plate(plate_text)
    plates.require_owner(user_id, plate)
    lot = get_or_none(Lot, lot_id)
    if lot is None:
        raise NotFound("no such lot", "lot_not_found")
    ensure(lot_plate_key(lot_id, plate), lot.operator_id, now)
    actions: list[Any] = [PlateIdentity.updated_at.set(now), *_touch(lot)]
    actions.append(PlateIdentity.locked_by.set(user_id) if locked else PlateIdentity.locked_by.remove())
    with transaction() as tx:
        tx.update(_plate_ref(lot_id, plate), actions=actions)
        audit.add(
            tx,
            user_id,
            lot.operator_id,
            "plate",
            f"{lot_id}/{plate}",
            "lock" if locked else "unlock",
            None,
            {"locked": locked},
            None,
            now,
        )
    return {"lot_id": lot_id, "plate": plate, "locked": locked}
