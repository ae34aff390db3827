"""Identity tables (domain.md §2.3, docs/identities.md).

Two shapes:

- `LotIdentity` (table `identities`): what staff manage, one item per card type, card, list
  entry (black, white, visitor pass) or reservation of a lot. Keys: hash `lot_id`, range `key` =
  "{kind}#{id}" (kind: type | card | list | resv). Access patterns: get one (staff edits; the
  gate reads a card that needs its live state: a group's cars inside, the count left); a lot's
  items of one kind (Query with begins_with; card types are loaded with the cached lot
  configuration); a driver's reservations (sparse GSI `by_user`: only reservations carry
  `user_id`); paid reservations whose window may have ended without an entry, by the window's
  end (sparse GSI `reservations_due`: `due_shard` is set when the reservation is paid and removed
  when its pass was used, it is cancelled or its no-show is settled; the no-show job reads it).
- `PlateIdentity`: the gate's projection, one item per (lot, plate) in the **visits** table,
  under the visits' own hash key `"{lot_id}#{plate}"` with the range key `~identity`, which sorts
  after every visit id: the gate's descending Query for the plate's latest visits returns it
  first, so a temporary car costs no extra read. Written by staff in the same transaction as the
  `LotIdentity` items it mirrors (card snapshot, list entries, passes), and by the gate (a pass
  used, arrears, the automatic blacklist). It has no `plate`, `inside_lot` or `exited_lot`
  attribute, so it never shows in the visits' indexes other than `by_id` (under `~identity`).
"""

from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import (
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for

IDENTITY_KEY = "~identity"
TYPE, CARD, LIST = "type", "card", "list"  # a list entry: black, white or visitor (a pass)
RESERVATION = "resv"
# What a plate's identity item holds of its card (`lent`: windows lent to guests, shared spaces).
SNAP_KEYS = ("card_id", "type_id", "kind", "valid_from", "valid_until", "spaces", "plates", "lent")


DUE_SHARD = "open"


class ReservationsByUser(GlobalSecondaryIndex["LotIdentity"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)


class ReservationsDue(GlobalSecondaryIndex["LotIdentity"]):
    class Meta:
        index_name = "reservations_due"
        projection = AllProjection()

    due_shard = UnicodeAttribute(hash_key=True)
    ends_at = UTCDateTimeAttribute(range_key=True)


class LotIdentity(Model):
    class Meta(TableMeta):
        table_name = table_name_for("identities")

    lot_id = UnicodeAttribute(hash_key=True)
    key = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    operator_id = UnicodeAttribute()
    data = JSONAttribute(default=dict)
    # Cards: the group's cars inside (plate → {"visit_id", "entered_at"}), the count left.
    inside = MapAttribute(default=dict)  # type: ignore[var-annotated]
    remaining_count = NumberAttribute(default=0)
    balance_fen = NumberAttribute(null=True)  # a stored-value card's balance (never below 0)
    version = NumberAttribute(default=0)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    # Reservations: the driver who booked it; a paid one's state (domain.reservations), its
    # window's end while a no-show may still be due, and what is owed back to the payer (an open
    # refund obligation, settled when the automatic refund pays it).
    user_id = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)
    due_shard = UnicodeAttribute(null=True)
    ends_at = UTCDateTimeAttribute(null=True)
    owed_back_fen = NumberAttribute(null=True)
    handover_fen = NumberAttribute(null=True)  # of it, a closed visit's unused prepaid for the payment

    by_user = ReservationsByUser()
    reservations_due = ReservationsDue()

    @property
    def item_id(self) -> str:
        return self.key.split("#", 1)[1]


def item_key(kind: str, item_id: str) -> str:
    return f"{kind}#{item_id}"


class PlateIdentity(Model):
    class Meta(TableMeta):
        table_name = table_name_for("visits")

    lot_plate = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True, default=IDENTITY_KEY)
    operator_id = UnicodeAttribute(null=True)
    # {"card_id", "type_id", "kind", "valid_from", "valid_until", "spaces", "plates"} or absent;
    # `card_id` beside it so that a plate is on one card of a lot at a time (a condition).
    card = JSONAttribute(null=True)
    card_id = UnicodeAttribute(null=True)
    # List entries and passes: {entry_id: {"kind", "starts", "ends", "reason", "single_use"}}.
    windows = MapAttribute(default=dict)  # type: ignore[var-annotated]
    # Single-use passes used up: {entry_id: visit_id}.
    used = MapAttribute(default=dict)  # type: ignore[var-annotated]
    locked_by = UnicodeAttribute(null=True)
    # Unpaid exits (open-gate mode): {visit_id: fen}; settled with the next fee.
    arrears = MapAttribute(default=dict)  # type: ignore[var-annotated]
    updated_at = UTCDateTimeAttribute(null=True)


def ensure(lot_plate: str, operator_id: str, now: datetime) -> None:
    """The plate's identity item exists with its (empty) maps, so that changes can set one entry
    of a map (DynamoDB cannot set a path under a map that is not there)."""
    try:
        PlateIdentity(lot_plate, IDENTITY_KEY, operator_id=operator_id, updated_at=now).save(
            condition=PlateIdentity.lot_plate.does_not_exist()
        )
    except PutError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise


MODELS: list[type[Model]] = [LotIdentity]
