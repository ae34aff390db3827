"""Shared spaces (共享车位, docs/identities.md#shared-spaces): a card owner lends a window of
their space to a guest plate.

One transaction writes the shared-space item (`share#{id}` in the identities table: who lent it
and when), the card's lent windows (on the card item, conditional on its version, so two lends
never both take the last space, and on every plate's card snapshot, which the gate reads with
the visit Query), and the guest's pass (kind `shared` on the guest plate's identity item).
Withdrawing removes the same three, only while the guest has not used the pass. At the exit the
guest's fee is split (parking.domain.shared_spaces); when the visit closes the owner's part moves
from the lot's parking revenue to `space_owner:<card id>` in the close's transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import config, identities, lots, plates
from chalicelib.parking.domain import identities as rules
from chalicelib.parking.domain import shared_spaces as sharing
from chalicelib.parking.domain.tariffs import Price
from chalicelib.parking.identity_models import (
    CARD,
    IDENTITY_KEY,
    SNAP_KEYS,
    LotIdentity,
    PlateIdentity,
    ensure,
    item_key,
)
from chalicelib.parking.models import Lot, Visit, lot_plate_key
from chalicelib.platform import audit
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Forbidden, Invalid, NotFound
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.timeutil import iso, parse_iso

SHARE = "share"
ATTEMPTS = 3  # a gate entry of the card's group may bump its version in between: read again


def view(item: LotIdentity) -> dict[str, Any]:
    return {"share_id": item.item_id, "lot_id": item.lot_id, **item.data}


def _card_of_host(lot_id: str, host: str) -> LotIdentity:
    """The time card the host plate holds at the lot (its live item)."""
    snapshot, _ = identities.lookup(lot_id, host, limit=0)
    snap = identities.card_snap(snapshot.card if snapshot is not None else None)
    if snap is None or snap.kind != rules.BY_TIME:
        raise Forbidden("only a time card's holder of this lot may share a space", "not_a_card_holder")
    card = get_or_none(LotIdentity, lot_id, item_key(CARD, snap.card_id), consistent=True)
    if card is None:
        raise Forbidden("only a time card's holder of this lot may share a space", "not_a_card_holder")
    return card


def _lent(card: LotIdentity, now: datetime) -> list[sharing.Lent]:
    """The card's lent windows that have not ended (ended ones are dropped when it is written)."""
    return [w for w in sharing.lent_of(card.data.get("lent")) if w.ends > now]


def _write_lent(
    tx: TransactWrite, card: LotIdentity, lent: list[sharing.Lent], lot_id: str, now: datetime
) -> None:
    """The card's lent windows on the card item (on its version) and every plate's snapshot."""
    data = {**card.data, "lent": [sharing.lent_dict(w) for w in lent]}
    condition: Any = LotIdentity.version == int(card.version or 0)
    if not card.version:
        condition = LotIdentity.version.does_not_exist() | condition
    tx.update(
        card,
        actions=[LotIdentity.data.set(data), LotIdentity.version.add(1), LotIdentity.updated_at.set(now)],
        condition=condition,
    )
    snap = {k: data.get(k) for k in SNAP_KEYS}
    for plate in data.get("plates") or []:
        tx.update(
            PlateIdentity(lot_plate_key(lot_id, plate), IDENTITY_KEY),
            actions=[PlateIdentity.card.set(snap), PlateIdentity.updated_at.set(now)],
            condition=PlateIdentity.card_id == card.item_id,
        )


def create(user_id: str, body: Any, now: datetime) -> dict[str, Any]:
    """The owner of `host_plate` (bound to the caller, holding a time card valid over the whole
    window) lends a future window (at most 31 days) to the guest `plate`; at most as many windows
    lent at once as the card has spaces (409)."""
    lot = get_or_none(Lot, body.lot_id)
    settings = config.lot(body.lot_id) if lot is not None else None
    if lot is None or settings is None:
        raise NotFound("no such lot", "lot_not_found")
    problem = sharing.window_problem(body.starts, body.ends, now)
    if problem is not None:
        raise Invalid(problem, "invalid_window")
    host, guest = plates.clean(body.host_plate), plates.clean(body.plate)
    plates.require_owner(user_id, host)
    for attempt in range(ATTEMPTS):
        card = _card_of_host(body.lot_id, host)
        data = card.data
        if guest in (data.get("plates") or []):
            raise Invalid("the guest plate is on the card itself", "invalid_guest")
        if not sharing.card_covers(
            parse_iso(data["valid_from"]) if data.get("valid_from") else None,
            parse_iso(data["valid_until"]) if data.get("valid_until") else None,
            body.starts,
            body.ends,
        ):
            raise Forbidden("the card is not valid over the whole window", "card_not_valid_for_window")
        lent = _lent(card, now)
        asked = (guest, iso(body.starts), iso(body.ends))
        same = next((w for w in lent if (w.guest, iso(w.starts), iso(w.ends)) == asked), None)
        if same is not None:  # a repeated request: the window it lent
            return view(_share(body.lot_id, same.share_id))
        spaces = int(data.get("spaces") or 1)
        if sharing.most_at_once(((w.starts, w.ends) for w in lent), body.starts, body.ends) > spaces:
            raise Conflict(
                f"the card's {spaces} space(s) are already lent over this window", "no_space_to_lend"
            )
        share_id = sortable_id("sh", now)
        label = sharing.label(body.starts, body.ends, settings.zone)
        record = {
            "host_plate": host,
            "card_id": card.item_id,
            "plate": guest,
            "starts": iso(body.starts),
            "ends": iso(body.ends),
            "label": label,
            "status": "active",
            "lent_by": user_id,
            "lent_at": iso(now),
            "withdrawn_by": None,
            "withdrawn_at": None,
        }
        item = LotIdentity(
            body.lot_id,
            item_key(SHARE, share_id),
            kind=SHARE,
            operator_id=lot.operator_id,
            data=record,
            created_at=now,
            updated_at=now,
            created_by=user_id,
        )
        window = {
            "kind": sharing.SHARED,
            "starts": record["starts"],
            "ends": record["ends"],
            "reason": "",
            "single_use": True,
            "card_id": card.item_id,
            "host_plate": host,
            "label": label,
        }
        ensure(lot_plate_key(body.lot_id, guest), lot.operator_id, now)
        new = sharing.Lent(share_id, body.starts, body.ends, guest, label)
        try:
            with transaction() as tx:
                tx.save(item, condition=LotIdentity.key.does_not_exist())
                _write_lent(tx, card, [*lent, new], body.lot_id, now)
                tx.update(
                    PlateIdentity(lot_plate_key(body.lot_id, guest), IDENTITY_KEY),
                    actions=[PlateIdentity.windows[share_id].set(window), PlateIdentity.updated_at.set(now)],
                )
        except TransactWriteError as error:
            if failed_condition(error) and attempt + 1 < ATTEMPTS:
                continue  # the card changed meanwhile (another lend, a group car): decide again
            if failed_condition(error):
                raise Conflict("the card changed meanwhile: try again", "card_changed") from error
            raise
        return view(item)
    raise AssertionError("unreachable")


def _share(lot_id: str, share_id: str) -> LotIdentity:
    item = get_or_none(LotIdentity, lot_id, item_key(SHARE, share_id), consistent=True)
    if item is None:
        raise NotFound("no such shared space", "shared_space_not_found")
    return item


def _of_lot(lot_id: str) -> list[LotIdentity]:
    """The lot's shared spaces, newest first (at most 500)."""
    return list(
        LotIdentity.query(
            lot_id, LotIdentity.key.startswith(f"{SHARE}#"), scan_index_forward=False, limit=500
        )
    )


def list_own(user_id: str, lot_id: str) -> list[dict[str, Any]]:
    """The caller's shared windows at a lot: those whose host plate is bound to the caller."""
    mine = {b.plate for b in plates.of_user(user_id)}
    return [view(i) for i in _of_lot(lot_id) if i.data.get("host_plate") in mine]


def list_lot(operator_id: str, lot_id: str) -> list[dict[str, Any]]:
    lots.own(operator_id, lot_id)
    return [view(i) for i in _of_lot(lot_id)]


def _withdraw(item: LotIdentity, who: str, now: datetime, also: Any = None) -> dict[str, Any]:
    """The window is withdrawn: off the card (and its plates), the guest's pass removed on the
    condition that it is unused; the item keeps who withdrew it and when."""
    data = dict(item.data)
    if data.get("status") != "active":
        return view(item)  # withdrawn before: a repeat changes nothing
    share_id, lot_id = item.item_id, item.lot_id
    for attempt in range(ATTEMPTS):
        card = get_or_none(LotIdentity, lot_id, item_key(CARD, str(data["card_id"])), consistent=True)
        after = {**data, "status": "withdrawn", "withdrawn_by": who, "withdrawn_at": iso(now)}
        try:
            with transaction() as tx:
                tx.update(
                    item,
                    actions=[LotIdentity.data.set(after), LotIdentity.updated_at.set(now)],
                    condition=LotIdentity.updated_at == item.updated_at,
                )
                if card is not None:
                    lent = [w for w in _lent(card, now) if w.share_id != share_id]
                    _write_lent(tx, card, lent, lot_id, now)
                tx.update(
                    PlateIdentity(lot_plate_key(lot_id, str(data["plate"])), IDENTITY_KEY),
                    actions=[PlateIdentity.windows[share_id].remove(), PlateIdentity.updated_at.set(now)],
                    condition=PlateIdentity.used[share_id].does_not_exist(),
                )
                if also is not None:
                    also(tx, data, after)
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            fresh = _share(lot_id, share_id)
            guest, _ = identities.lookup(lot_id, str(data["plate"]), limit=0)
            used = guest is not None and guest.used and share_id in guest.used.as_dict()
            if used:
                raise Conflict("the guest has entered with this pass", "shared_pass_used") from error
            if fresh.data.get("status") != "active":
                return view(fresh)  # withdrawn meanwhile by the other side: the same answer
            if attempt + 1 == ATTEMPTS:
                raise Conflict("the shared space changed meanwhile", "shared_space_changed") from error
            item, data = fresh, dict(fresh.data)
            continue
        item.data = after
        return view(item)
    raise AssertionError("unreachable")


def withdraw_own(user_id: str, lot_id: str, share_id: str, now: datetime) -> dict[str, Any]:
    """The owner withdraws a window before it starts (its host plate bound to the caller)."""
    item = _share(lot_id, share_id)
    mine = {b.plate for b in plates.of_user(user_id)}
    if item.data.get("host_plate") not in mine:
        raise NotFound("no such shared space", "shared_space_not_found")
    if item.data.get("status") == "active" and parse_iso(str(item.data["starts"])) <= now:
        raise Conflict("the window has started: it can no longer be withdrawn", "window_started")
    return _withdraw(item, user_id, now)


def withdraw_by_staff(
    user_id: str, operator_id: str, lot_id: str, share_id: str, now: datetime
) -> dict[str, Any]:
    """Staff withdraw a window whose pass is unused (also once it has started, e.g. before the
    card is cancelled); audited."""
    lots.own(operator_id, lot_id)
    item = _share(lot_id, share_id)

    def record(tx: TransactWrite, before: dict[str, Any], after: dict[str, Any]) -> None:
        audit.add(
            tx,
            user_id,
            operator_id,
            "shared_space",
            f"{lot_id}/{share_id}",
            "withdraw",
            before,
            after,
            None,
            now,
        )

    return _withdraw(item, user_id, now, record)


def lends(card: LotIdentity, now: datetime) -> bool:
    """The card lends a window that has not ended (it is not cancelled meanwhile)."""
    return bool(_lent(card, now))


# --- at the exit ------------------------------------------------------------------------------------


def price(visit: Visit, until: datetime, plain: Any) -> Price | None:
    """A guest's visit is priced by its window (None: not a guest of a shared space)."""
    window = (visit.identity or {}).get("shared")
    if not window:
        return None
    return sharing.priced(window, visit.entered_at, until, plain)


def on_close(
    tx: TransactWrite, visit: Visit, lot: config.LotConfig, fee: Price, discount_fen: int, now: datetime
) -> None:
    """The guest's visit closes: the owner's part moves from parking revenue to the owner's payable
    account, in the close's transaction."""
    amount = sharing.owner_part(fee, discount_fen)
    window = (visit.identity or {}).get("shared") or {}
    if amount <= 0 or not window.get("card_id"):
        return
    posting = ledger.space_owner_share(
        visit.visit_id,
        card_id=str(window["card_id"]),
        share_id=str(window.get("share_id")),
        lot_id=lot.lot_id,
        operator_id=lot.operator_id,
        amount_fen=amount,
        at=now,
    )
    ledger.add(tx, posting, lot.timezone)
