"""Who is the car, at the gate (docs/identities.md): the plate's identity item comes with the
visit lookup (one Query); a card that needs its live state (a group's cars inside, a count card's
count) is one more consistent read; every change the decision makes is an item of the gate's
own transaction, conditional on what was read."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from pynamodb.expressions.condition import Condition, size
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import config
from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain import shared_spaces as sharing
from chalicelib.parking.domain.identities import CardSnap, CardState, Entry, Identity, Window
from chalicelib.parking.identity_models import CARD, IDENTITY_KEY, LIST, LotIdentity, PlateIdentity, item_key
from chalicelib.parking.models import RECORD_ARREARS, Visit, lot_plate_key, new_record
from chalicelib.shared.db import get_or_none
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso, parse_iso


def _instant(value: Any) -> datetime | None:
    return parse_iso(str(value)) if value else None


def lookup(lot_id: str, plate: str, limit: int) -> tuple[PlateIdentity | None, list[Visit]]:
    """The plate's identity item and its latest `limit` visits, newest first: one strongly
    consistent Query (the identity item sorts after every visit id)."""
    connection = Visit._get_connection()
    data = connection.query(
        lot_plate_key(lot_id, plate), scan_index_forward=False, limit=limit + 1, consistent_read=True
    )
    identity: PlateIdentity | None = None
    visits: list[Visit] = []
    for raw in data.get("Items", []):
        if raw.get("visit_id", {}).get("S") == IDENTITY_KEY:
            identity = PlateIdentity.from_raw_data(raw)
        else:
            visits.append(Visit.from_raw_data(raw))
    return identity, visits[:limit]


def card_snap(card: dict[str, Any] | None) -> CardSnap | None:
    if not card:
        return None
    return CardSnap(
        str(card["card_id"]),
        str(card["type_id"]),
        str(card.get("kind") or rules.BY_TIME),
        _instant(card.get("valid_from")),
        _instant(card.get("valid_until")),
        int(card.get("spaces") or 1),
        tuple(card.get("plates") or ()),
        sharing.lent_of(card.get("lent")),
    )


def window_of(entry_id: str, data: dict[str, Any], used: bool = False) -> Window:
    return Window(
        entry_id,
        str(data.get("kind")),
        _instant(data.get("starts")),
        _instant(data.get("ends")),
        str(data.get("reason") or ""),
        bool(data.get("single_use")),
        used,
        sharing.pass_extra(data),
        prepaid_fen=int(data.get("prepaid_fen") or 0),
        paid=bool(data.get("paid")),
    )


def view(item: PlateIdentity | None) -> Identity:
    if item is None:
        return rules.NOBODY
    used = item.used.as_dict() if item.used else {}
    windows = tuple(
        window_of(entry_id, dict(data), entry_id in used)
        for entry_id, data in sorted((item.windows.as_dict() if item.windows else {}).items())
    )
    arrears = {k: int(v) for k, v in (item.arrears.as_dict() if item.arrears else {}).items()}
    return Identity(card_snap(item.card), windows, bool(item.locked_by), arrears)


def _card_state(item: LotIdentity) -> CardState:
    return CardState(
        int(item.version or 0),
        {p: dict(v) for p, v in (item.inside.as_dict() if item.inside else {}).items()},
        int(item.remaining_count or 0),
    )


def resolve(
    lot: config.LotConfig, lane_id: str, plate: str, now: datetime, item: PlateIdentity | None, inside: bool
) -> tuple[Entry, CardState | None]:
    """The entry decision; reads the card only when its live state decides."""
    identity = view(item)
    entry = rules.resolve_entry(plate, lane_id, now, lot.options, identity, lot.card_types, None, inside)
    if not entry.needs_card:
        return entry, None
    card = get_or_none(LotIdentity, lot.lot_id, item_key(CARD, str(entry.card_id)), consistent=True)
    if card is None:  # removed meanwhile: the car is what it is without it
        identity = replace(identity, card=None)
        return rules.resolve_entry(
            plate, lane_id, now, lot.options, identity, lot.card_types, None, inside
        ), None
    state = _card_state(card)
    return rules.resolve_entry(
        plate, lane_id, now, lot.options, identity, lot.card_types, state, inside
    ), state


def tariff_ref(lot: config.LotConfig, entry: Entry) -> config.TariffRef | None:
    """A card type's own tariff, which outranks every other (resolved with the lot's config)."""
    return lot.card_tariffs.get(entry.tariff_id) if entry.tariff_id else None


def arrears_unchanged(arrears: dict[str, int]) -> Condition:
    """The plate identity's arrears are exactly these (what was read)."""
    condition: Condition = size(PlateIdentity.arrears) == len(arrears)
    for visit_id, fen in arrears.items():
        condition = condition & (PlateIdentity.arrears[visit_id] == fen)
    return condition


def entry_writes(
    tx: TransactWrite,
    lot: config.LotConfig,
    plate: str,
    entry: Entry,
    state: CardState | None,
    visit_id: str,
    now: datetime,
    item: PlateIdentity | None = None,
) -> None:
    """The entry's identity changes, in the gate's transaction: the group's space taken (only if
    the card is as it was read: two cars of one group at two lanes never both take the last
    space), a count used, a single-use pass used up. A visit that carries the plate's arrears
    enters only while they are as read (paid at the booth meanwhile: the entry decides again),
    and marks the identity changed (a booth payment read before it is refused and reads again)."""
    arrears = dict(view(item).arrears)
    if arrears and entry.pass_id is None:
        tx.update(
            PlateIdentity(lot_plate_key(lot.lot_id, plate), IDENTITY_KEY),
            actions=[PlateIdentity.updated_at.set(now)],
            condition=arrears_unchanged(arrears),
        )
    if entry.card_id is not None and state is not None and (entry.group or entry.uses_count):
        actions: list[Action] = [LotIdentity.version.add(1), LotIdentity.updated_at.set(now)]
        condition: Any = LotIdentity.version == state.version
        if state.version == 0:
            condition = LotIdentity.version.does_not_exist() | condition
        if entry.group:
            actions.append(LotIdentity.inside[plate].set({"visit_id": visit_id, "entered_at": iso(now)}))
        if entry.uses_count:
            actions.append(LotIdentity.remaining_count.add(-1))
            condition = condition & (LotIdentity.remaining_count > 0)
        tx.update(
            LotIdentity(lot.lot_id, item_key(CARD, entry.card_id)), actions=actions, condition=condition
        )
    if entry.pass_id is not None:
        unused = (
            PlateIdentity.used[entry.pass_id].does_not_exist() & PlateIdentity.windows[entry.pass_id].exists()
        )
        tx.update(
            PlateIdentity(lot_plate_key(lot.lot_id, plate), IDENTITY_KEY),
            actions=[PlateIdentity.used[entry.pass_id].set(visit_id), PlateIdentity.updated_at.set(now)],
            # unused, and not withdrawn meanwhile (a staff delete, a shared window withdrawn)
            condition=unused & arrears_unchanged(arrears) if arrears else unused,
        )


def visit_fields(
    entry: Entry, item: PlateIdentity | None, plateless_user: str | None = None
) -> dict[str, Any]:
    """What the new visit keeps: its identity and the arrears it pays with its fee."""
    arrears = view(item).arrears
    window = dict(item.windows.as_dict().get(entry.pass_id) or {}) if item and entry.pass_id else {}
    paid = {"reservation_id": entry.pass_id, "payment_id": window.get("payment_id")}
    return {
        "identity": entry.to_visit(),
        "arrears": arrears or None,
        "arrears_fen": sum(arrears.values()),
        "plateless_user": plateless_user,
        # a paid reservation's prepaid parking (settled when the visit closes)
        "prepaid_fen": entry.prepaid_fen,
        "reservation": paid if entry.prepaid_fen else None,
    }


def exit_rule(
    visit: Visit, lane_id: str, due_fen: int, lot: config.LotConfig, item: PlateIdentity | None
) -> rules.ExitRule:
    return rules.exit_rule(visit.plate, lane_id, due_fen, lot.options, view(item))


def free_space(tx: TransactWrite, visit: Visit) -> None:
    """A group car's visit ends (exit, abnormal release, stale close): its space is free."""
    identity = visit.identity or {}
    if identity.get("group") and identity.get("card_id"):
        tx.update(
            LotIdentity(visit.lot_id, item_key(CARD, str(identity["card_id"]))),
            actions=[LotIdentity.inside[visit.plate].remove(), LotIdentity.version.add(1)],
        )


def on_close(
    tx: TransactWrite, visit: Visit, lot: config.LotConfig, net_fee_fen: int, paid_fen: int, now: datetime
) -> int:
    """A visit leaves: its group space is freed; the arrears it carried are settled when what
    it paid (`paid_fen`, with what this exit takes) covers them (posting and identity item in the
    same transaction). What counts toward the earlier visits (fen), so the visit's own close books
    the rest."""
    free_space(tx, visit)
    settled = rules.settled_arrears(visit.arrears or {}, net_fee_fen, paid_fen)
    if not settled:
        return 0
    ledger.add(
        tx,
        ledger.arrears_settled(
            visit.visit_id, lot_id=lot.lot_id, operator_id=lot.operator_id, arrears=settled, at=now
        ),
        lot.timezone,
    )
    tx.update(
        PlateIdentity(visit.lot_plate, IDENTITY_KEY),
        actions=[
            *(PlateIdentity.arrears[old].remove() for old in settled),
            PlateIdentity.updated_at.set(now),
        ],
    )
    return sum(settled.values())


def owe(
    tx: TransactWrite,
    visit: Visit,
    lot: config.LotConfig,
    lane_id: str,
    owed_fen: int,
    item: PlateIdentity | None,
    now: datetime,
    kind: str = "open_gate",
) -> None:
    """Open-gate mode let the car out owing `owed_fen`: it becomes the plate's arrears (paid
    with its next fee), an arrears record, and at the lot's threshold of unpaid exits an
    automatic blacklist entry (listed with the staff's entries). What it owed of earlier visits'
    arrears (carried in its due, still on the identity) is not counted twice: only its own part
    becomes its arrears. `kind` `abnormal_release`: staff let it out owing its own fee's rest
    (`owed_fen` carries no earlier arrears)."""
    if kind == "open_gate":
        owed_fen = rules.own_arrears(owed_fen, int(visit.arrears_fen or 0))
    if not owed_fen:
        return
    actions = [
        PlateIdentity.arrears[visit.visit_id].set(owed_fen),
        PlateIdentity.operator_id.set(lot.operator_id),
        PlateIdentity.updated_at.set(now),
    ]
    unpaid = len(view(item).arrears) + 1
    entry_id = None
    data: dict[str, Any] = {}
    if rules.blacklists_after(unpaid, lot.options.arrears_blacklist_after):
        entry_id = sortable_id("bl", now)
        data = {
            "kind": "black",
            "starts": iso(now),
            "ends": None,
            "reason": f"欠费自动拉黑 ({unpaid} 次未缴)",
            "single_use": False,
        }
        actions.append(PlateIdentity.windows[entry_id].set(data))
        tx.save(
            LotIdentity(
                lot.lot_id,
                item_key(LIST, entry_id),
                kind=LIST,
                operator_id=lot.operator_id,
                data={**data, "plate": visit.plate, "auto": True},
                created_at=now,
                updated_at=now,
                created_by="system",
            )
        )
    if item is None:  # the plate's first identity: the item with its maps
        windows = {entry_id: data} if entry_id is not None else {}
        tx.save(
            PlateIdentity(
                visit.lot_plate,
                IDENTITY_KEY,
                operator_id=lot.operator_id,
                arrears={visit.visit_id: owed_fen},
                windows=windows,
                updated_at=now,
            ),
            condition=PlateIdentity.lot_plate.does_not_exist(),
        )
    else:
        tx.update(PlateIdentity(visit.lot_plate, IDENTITY_KEY), actions=actions)
    tx.save(
        new_record(
            lot.lot_id,
            RECORD_ARREARS,
            visit.plate,
            now,
            visit.visit_id,
            visit_id=visit.visit_id,
            detail={
                "kind": kind,
                "lane_id": lane_id,
                "unpaid_fen": owed_fen,
                "unpaid_exits": unpaid,
                "blacklisted": entry_id,
            },
        )
    )
