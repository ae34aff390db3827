"""Prestore and no-sense pay (预存款 / 无感支付, docs/booth.md).

A third party (through the staff API for now) deposits or overwrites a prestore amount for a plate
at a lot; the plate's owner turns auto-pay on (and, per plate, the no-sense channel: a bank
auto-debit after the exit). At an exit with a fee due, the gate asks `at_exit`: a plate with
auto-pay and enough prestore at the lot pays from it, else a plate with no-sense pays through the
bank; either way the payment is written in the exit's own transaction (`FundsDebit.add`) and the
barrier opens. A car that paid in the lot owes nothing at the exit and is never asked about.

Round trips: a lot where no plate has prestore, while no plate has no-sense on, costs the exit
nothing (a flag per lot, cached in the container like the lot's configuration, read with one
BatchGetItem on a cold cache: a first deposit at a lot is seen by other containers within
`PARKCHARGE_CONFIG_CACHE_SECONDS`); otherwise one consistent Query of the plate's items.

Table `plate_funds`, one partition per plate:
- `scope = "plate"`: the owner's settings (auto_pay, no_sense, user_id);
- `scope = "lot#<lot_id>"`: the prestore balance at that lot;
- markers: partition `#lots`, scope `lot#<lot_id>` (a lot has had a prestore), partition
  `#no_sense`, scope `any` (some plate has had no-sense on). Markers are never removed (a stale
  marker only costs the Query).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import TransactWriteError
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.platform import audit
from chalicelib.shared.cache import cache
from chalicelib.shared.db import TableMeta, failed_condition, get_or_none, table_name_for, transaction
from chalicelib.shared.errors import Conflict
from chalicelib.shared.ids import sortable_id
from chalicelib.shared.settings import get_settings
from chalicelib.shared.timeutil import iso

SETTINGS = "plate"
LOTS_MARKER = "#lots"
NO_SENSE_MARKER = "#no_sense"
PRESTORE = "prestore"
NO_SENSE = "no_sense"
THIRD_PARTY = "third_party"
DEVICE = "device"  # the payment's source: the gate's exit decided it


class PlateFunds(Model):
    class Meta(TableMeta):
        table_name = table_name_for("plate_funds")

    plate = UnicodeAttribute(hash_key=True)
    scope = UnicodeAttribute(range_key=True)  # "plate" | "lot#<lot_id>" | markers
    balance_fen = NumberAttribute(null=True)
    auto_pay = BooleanAttribute(null=True)
    no_sense = BooleanAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    operator_id = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


MODELS: list[type[Model]] = [PlateFunds]

_flags = cache("plate-funds-flags", get_settings().config_cache_seconds)


def _lot_scope(lot_id: str) -> str:
    return f"lot#{lot_id}"


def _changed() -> None:
    _flags.clear()


def _flagged(lot_id: str) -> bool:
    """Whether an exit at this lot may be paid from funds: cached per container."""
    hit = _flags.get(lot_id)
    if hit is not None:
        return bool(hit)
    found = list(PlateFunds.batch_get([(LOTS_MARKER, _lot_scope(lot_id)), (NO_SENSE_MARKER, "any")]))
    _flags.put(lot_id, bool(found))
    return bool(found)


# -- the third party's prestore


@dataclass(frozen=True)
class PrestoreView:
    lot_id: str
    plate: str
    balance_fen: int
    auto_pay: bool
    no_sense: bool


def view(lot_id: str, plate: str) -> PrestoreView:
    items = {i.scope: i for i in PlateFunds.query(plate, consistent_read=True)}
    held = items.get(_lot_scope(lot_id))
    settings = items.get(SETTINGS)
    return PrestoreView(
        lot_id,
        plate,
        int(held.balance_fen or 0) if held is not None else 0,
        bool(settings is not None and settings.auto_pay),
        bool(settings is not None and settings.no_sense),
    )


def set_prestore(
    who: str, operator_id: str, lot_id: str, plate: str, amount_fen: int, mode: str, now: datetime
) -> PrestoreView:
    """Deposit `amount_fen` (mode `deposit`) or make the balance exactly `amount_fen` (mode `set`),
    with its journal posting and audit entry in one transaction."""
    for _ in range(3):
        held = get_or_none(PlateFunds, plate, _lot_scope(lot_id), consistent=True)
        before = int(held.balance_fen or 0) if held is not None else 0
        after = before + amount_fen if mode == "deposit" else amount_fen
        reference = sortable_id("ps", now)
        posting = ledger.prestore_deposit(
            reference,
            lot_id=lot_id,
            plate=plate,
            operator_id=operator_id,
            delta_fen=after - before,
            at=now,
            source=THIRD_PARTY,
        )
        unchanged = (
            PlateFunds.balance_fen == before if held is not None else PlateFunds.scope.does_not_exist()
        )
        item = PlateFunds(
            plate,
            _lot_scope(lot_id),
            balance_fen=after,
            operator_id=operator_id,
            updated_by=who,
            updated_at=now,
        )
        try:
            with transaction() as tx:
                tx.save(item, condition=unchanged)
                tx.save(PlateFunds(LOTS_MARKER, _lot_scope(lot_id), updated_at=now))
                ledger.add(tx, posting)
                audit.add(
                    tx,
                    who,
                    operator_id,
                    "prestore",
                    f"{lot_id}/{plate}",
                    f"prestore_{mode}",
                    {"balance_fen": before},
                    {"balance_fen": after},
                    None,
                    now,
                )
        except TransactWriteError as error:
            if failed_condition(error, index=0):
                continue
            raise
        _changed()
        return view(lot_id, plate)
    raise Conflict("the prestore kept changing; try again", "prestore_changed")


# -- the owner's settings


def set_plate_pay(user_id: str, plate: str, auto_pay: bool, no_sense: bool, now: datetime) -> None:
    """The plate owner's auto-pay from prestore and no-sense pay (the caller checked ownership)."""
    with transaction() as tx:
        tx.save(
            PlateFunds(plate, SETTINGS, auto_pay=auto_pay, no_sense=no_sense, user_id=user_id, updated_at=now)
        )
        if no_sense:
            tx.save(PlateFunds(NO_SENSE_MARKER, "any", updated_at=now))
    _changed()


# -- at the exit


@dataclass(frozen=True)
class FundsDebit:
    """A fee paid from a plate's funds at the exit, written in the exit's transaction."""

    method: str  # prestore | no_sense
    amount_fen: int
    display: str
    add: Callable[[TransactWrite, str, str | None, str | None], None]  # (tx, visit_id, operator, zone)


def at_exit(lot_id: str, plate: str, due_fen: int, now: datetime) -> FundsDebit | None:
    """How the car at the exit pays `due_fen` from its funds, or None (it pays as usual)."""
    if due_fen <= 0 or not _flagged(lot_id):
        return None
    items = {i.scope: i for i in PlateFunds.query(plate, consistent_read=True)}
    settings = items.get(SETTINGS)
    if settings is None:
        return None
    held = items.get(_lot_scope(lot_id))
    balance = int(held.balance_fen or 0) if held is not None else 0
    memo: dict[str, Any] = {"source": DEVICE, "plate": plate}
    if settings.auto_pay and held is not None and balance >= due_fen:
        seen = held

        def from_prestore(
            tx: TransactWrite, visit_id: str, operator_id: str | None, zone: str | None
        ) -> None:
            tx.update(
                seen,
                actions=[PlateFunds.balance_fen.add(-due_fen), PlateFunds.updated_at.set(now)],
                condition=PlateFunds.balance_fen == balance,
            )
            ledger.add(
                tx,
                ledger.prestore_payment(
                    f"{PRESTORE}-{visit_id}",
                    lot_id=lot_id,
                    plate=plate,
                    operator_id=operator_id,
                    visit_id=visit_id,
                    amount_fen=due_fen,
                    at=now,
                    memo={**memo, "method": PRESTORE, "balance_after_fen": balance - due_fen},
                ),
                zone,
            )

        return FundsDebit(PRESTORE, due_fen, "预存款已扣费", from_prestore)
    if settings.no_sense:

        def by_bank(tx: TransactWrite, visit_id: str, operator_id: str | None, zone: str | None) -> None:
            ledger.add(
                tx,
                ledger.parking_payment(
                    f"{NO_SENSE}-{visit_id}",
                    provider=NO_SENSE,
                    lot_id=lot_id,
                    operator_id=operator_id,
                    visit_id=visit_id,
                    split=ledger.PaymentSplit(due_fen, 0),
                    at=now,
                    on_time=True,
                    memo={**memo, "method": NO_SENSE, "debit": "after_exit", "requested_at": iso(now)},
                ),
                zone,
            )

        return FundsDebit(NO_SENSE, due_fen, "无感支付", by_bank)
    return None


def balance_facts() -> Iterator[ledger.HeldFact]:
    """Every plate's prestore balance at a lot beside its journal account (the ledger's scheduled
    check; a scan: a batch job only)."""
    for held in PlateFunds.scan(PlateFunds.scope.startswith("lot#")):
        if str(held.plate) == LOTS_MARKER:
            continue
        lot_id = str(held.scope).removeprefix("lot#")
        yield ledger.HeldFact(ledger.prestore(lot_id, str(held.plate)), int(held.balance_fen or 0))
