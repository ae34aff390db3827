"""Stored-value cards (储值卡, docs/identities.md): staff load value onto a card; at the exit a card
holder's fee is taken from the balance in the exit's own transaction.

The balance is the card item's `balance_fen` (table `identities`, `card#<id>`), mirrored in the
journal as `card_balance:<card_id>`. Every change is conditional on the balance read, so two
exits (or an exit and a top-up) never spend or load the same balance twice, and it never goes
below zero. The exit reads the card (one consistent GetItem) only for a visit that entered on a
stored-value card with a fee due: a temporary car's exit costs nothing more. The debit has the
shape of the prestore's (`payments.FundsDebit`): the gate adds it to the exit's transaction."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import config, lots
from chalicelib.parking.domain import identities as rules
from chalicelib.parking.identity_models import CARD, LotIdentity, item_key
from chalicelib.parking.models import Visit
from chalicelib.payments import ports as payments
from chalicelib.platform import audit
from chalicelib.shared.db import failed_condition, get_or_none, transaction
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.money import format_yuan

METHOD = "stored_value"  # the payment's method in the journal's memo


def _unchanged(balance: int | None) -> Any:
    if balance is None:
        return LotIdentity.balance_fen.does_not_exist()
    return LotIdentity.balance_fen == balance


def top_up(
    user_id: str, operator_id: str, lot_id: str, card_id: str, body: Any, now: datetime
) -> dict[str, Any]:
    """Load `amount_fen` onto a stored-value card: the card's balance, the journal posting (the
    money taken → the card's balance) and the audit entry in one transaction. A repeated
    `top_up_id` loads nothing more and answers the card's balance."""
    lots.own(operator_id, lot_id)
    for _ in range(3):
        card = get_or_none(LotIdentity, lot_id, item_key(CARD, card_id), consistent=True)
        if card is None:
            raise NotFound("no such card", "card_not_found")
        if card.data.get("kind") != rules.STORED_VALUE:
            raise Invalid("only a stored-value card takes top-ups", "not_stored_value")
        seen = None if card.balance_fen is None else int(card.balance_fen)
        before = seen or 0
        after = before + body.amount_fen
        posting = ledger.card_top_up(
            card_id,
            body.top_up_id,
            lot_id=lot_id,
            operator_id=operator_id,
            amount_fen=body.amount_fen,
            source=body.method,
            at=now,
        )
        out = {
            "lot_id": lot_id,
            "card_id": card_id,
            "top_up_id": body.top_up_id,
            "amount_fen": body.amount_fen,
        }
        try:
            with transaction() as tx:
                tx.update(
                    card,
                    actions=[
                        LotIdentity.balance_fen.set(after),
                        LotIdentity.version.add(1),
                        LotIdentity.updated_at.set(now),
                    ],
                    condition=_unchanged(seen),
                )
                ledger.add(tx, posting)
                audit.add(
                    tx,
                    user_id,
                    operator_id,
                    "card",
                    f"{lot_id}/{card_id}",
                    "top_up",
                    {"balance_fen": before},
                    {"balance_fen": after, "top_up_id": body.top_up_id, "method": body.method},
                    None,
                    now,
                )
        except TransactWriteError as error:
            if not failed_condition(error):
                raise
            if ledger.get(posting.posting_id) is not None if posting else False:
                return {**out, "balance_fen": before}  # this top-up was booked before
            continue  # the balance changed meanwhile: read it again
        return {**out, "balance_fen": after}
    raise Conflict("the card's balance kept changing; try again", "card_changed")


def at_exit(visit: Visit, lot: config.LotConfig, due_fen: int, now: datetime) -> payments.FundsDebit | None:
    """The fee due at the exit taken from the visit's stored-value card, or None (the car pays
    as a temporary car would: no such card, or a balance that does not cover the fee)."""
    identity = visit.identity or {}
    card_id = identity.get("card_id")
    if due_fen <= 0 or not identity.get("stored_value") or not card_id:
        return None
    card = get_or_none(LotIdentity, lot.lot_id, item_key(CARD, str(card_id)), consistent=True)
    if card is None:
        return None
    balance = int(card.balance_fen or 0)
    taken, _rest = rules.balance_split(balance, due_fen)
    if taken == 0:
        return None
    left = balance - taken

    def from_card(tx: TransactWrite, visit_id: str, operator_id: str | None, zone: str | None) -> None:
        tx.update(
            LotIdentity(lot.lot_id, item_key(CARD, str(card_id))),
            actions=[
                LotIdentity.balance_fen.add(-taken),
                LotIdentity.version.add(1),
                LotIdentity.updated_at.set(now),
            ],
            condition=(LotIdentity.balance_fen == balance) & (LotIdentity.balance_fen >= taken),
        )
        ledger.add(
            tx,
            ledger.held_payment(
                f"card-{visit_id}",
                ledger.card_balance(str(card_id)),
                lot_id=lot.lot_id,
                operator_id=operator_id,
                visit_id=visit_id,
                amount_fen=taken,
                at=now,
                memo={
                    "source": "device",
                    "plate": visit.plate,
                    "method": METHOD,
                    "card_id": card_id,
                    "balance_after_fen": left,
                },
            ),
            zone,
        )

    return payments.FundsDebit(METHOD, taken, f"储值卡已扣费 余额{format_yuan(left)}元", from_card)


def balance_facts() -> Iterator[ledger.HeldFact]:
    """Every stored-value card's balance beside its journal account (a scan: a batch job only)."""
    for card in LotIdentity.scan(LotIdentity.kind == CARD):
        if card.data.get("kind") == rules.STORED_VALUE:
            yield ledger.HeldFact(ledger.card_balance(card.item_id), int(card.balance_fen or 0))
