"""Parking tables: lots and lanes, visits, quotes, records, versioned tariffs and the plates
bound to driver accounts. Access patterns next to each model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.parking.identity_models import MODELS as IDENTITY_MODELS
from chalicelib.shared.db import TableMeta, table_name_for

# ----------------------------------------------------------------------------------------------
# Lots (停车场) and their lanes (车道) with gates.
#
# Access patterns:
# - get a lot by id (gate path, cached per container; staff views);
# - list the lots of an operator (GSI `by_operator`);
# - list the lanes of a lot (query lanes by lot_id; gate path, cached with the lot).


class LotsByOperator(GlobalSecondaryIndex["Lot"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    lot_id = UnicodeAttribute(range_key=True)


class Lot(Model):
    class Meta(TableMeta):
        table_name = table_name_for("lots")

    lot_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute(default="Asia/Shanghai")
    capacity = NumberAttribute(default=0)
    grace_minutes = NumberAttribute(default=15)
    # Which tariff applies to each vehicle class, on ordinary days and on holidays:
    # {"small": {"tariff_id": "...", "holiday_tariff_id": "..." | null}, "large": {...}, "other": {...}}
    tariff_plan = JSONAttribute(default=dict)
    # Holidays as the lot's local dates, "YYYY-MM-DD".
    holidays: ListAttribute[str] = ListAttribute(default=list)
    # Who-is-the-car options (docs/identities.md): precedence, special plate patterns, open-gate
    # mode for the lot or some lanes, the arrears blacklist threshold, the group option.
    identity_options = JSONAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    # Cash at the booth above this needs the cashier's confirmation (docs/booth.md); unset: the default.
    cash_confirm_above_fen = NumberAttribute(null=True)

    by_operator = LotsByOperator()


class Lane(Model):
    """A lane with its gate (barrier); `direction` is `in` or `out`."""

    class Meta(TableMeta):
        table_name = table_name_for("lanes")

    lot_id = UnicodeAttribute(hash_key=True)
    lane_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    direction = UnicodeAttribute()
    gate_id = UnicodeAttribute()
    device_ids = ListAttribute(of=UnicodeAttribute, default=list)


# ----------------------------------------------------------------------------------------------
# Visits (在场 / 出场 records): one per stay of a plate at a lot.
#
# Keys: hash `lot_plate` = "{lot_id}#{plate}", range `visit_id` (time-sortable: newest sorts last).
# Access patterns:
# - the latest visit of a plate at a lot, strongly consistent (gate entry and exit: one Query,
#   descending, limit 1);
# - a driver's visits of one plate across lots, newest first (GSI `by_plate`);
# - cars in a lot now (sparse GSI `inside_by_lot`: `inside_lot` is set only while inside);
# - cars that left a lot, by exit time (sparse GSI `exited_by_lot`: `exited_lot` is set when a
#   visit leaves, by a normal exit or an abnormal release);
# - a visit by its keys (quotes and payments store both);
# - a visit by its id alone (staff actions name it; GSI `by_id`, keys only, then a consistent get).
# At exit the gate reads the plate's latest three visits in one Query (the current one and the
# newest closed one, which carries the no-repeat cycle's running total in `cycle_total_fen`).
# Status: inside → exited | abnormal_entry | released (abnormal release or remote open by staff:
# no normal exit) | closed (a stale visit closed by staff). Every change is conditional on the
# status.

INSIDE = "inside"
EXITED = "exited"
ABNORMAL_ENTRY = "abnormal_entry"
RELEASED = "released"
CLOSED = "closed"
LEFT = (EXITED, RELEASED)  # the car went out through a barrier


class VisitsByPlate(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "by_plate"
        projection = AllProjection()

    plate = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)


class VisitsInsideByLot(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "inside_by_lot"
        projection = AllProjection()

    inside_lot = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)


class VisitsById(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "by_id"
        projection = KeysOnlyProjection()

    visit_id = UnicodeAttribute(hash_key=True)


class VisitsExitedByLot(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "exited_by_lot"
        projection = AllProjection()

    exited_lot = UnicodeAttribute(hash_key=True)
    exited_at = UTCDateTimeAttribute(range_key=True)


class Visit(Model):
    class Meta(TableMeta):
        table_name = table_name_for("visits")

    lot_plate = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)
    lot_id = UnicodeAttribute()
    plate = UnicodeAttribute()
    plate_color = NumberAttribute(default=0)
    vehicle_class = UnicodeAttribute(default="small")
    status = UnicodeAttribute()
    inside_lot = UnicodeAttribute(null=True)
    entered_at = UTCDateTimeAttribute()
    entry_lane_id = UnicodeAttribute()
    entry_device_id = UnicodeAttribute()
    entry_message_id = UnicodeAttribute()
    entry_remark = UnicodeAttribute()
    # The tariff versions in force at entry for this car's class: {"tariff_id", "version",
    # "holiday_tariff_id", "holiday_version"}; the visit is always priced with these.
    tariff_ref = JSONAttribute(null=True)
    # no_repeat mode: the start of this visit's last billing cycle and what it owed in it, and the
    # cycle's running total for the plate (this visit and every earlier one in the same cycle), so
    # the next visit reads one item however many visits the cycle has.
    last_cycle_start = UTCDateTimeAttribute(null=True)
    last_cycle_fen = NumberAttribute(null=True)
    cycle_total_fen = NumberAttribute(null=True)
    exited_at = UTCDateTimeAttribute(null=True)
    exited_lot = UnicodeAttribute(null=True)
    exit_lane_id = UnicodeAttribute(null=True)
    exit_device_id = UnicodeAttribute(null=True)
    exit_remark = UnicodeAttribute(null=True)
    total_fen = NumberAttribute(default=0)
    paid_fen = NumberAttribute(default=0)
    discount_fen = NumberAttribute(default=0)
    # A payment that arrived while its quote was valid: when, and the instant its quote priced the
    # stay to (the grace window runs from `paid_at`). Late payments count only in `paid_fen`.
    paid_at = UTCDateTimeAttribute(null=True)
    priced_until = UTCDateTimeAttribute(null=True)
    # Money taken beyond what the visit owed: an open refund obligation (also in the journal).
    overpaid_fen = NumberAttribute(default=0)
    # The one payable quote (a new quote supersedes the earlier unpaid ones).
    quote_id = UnicodeAttribute(null=True)
    waiting_exit_device_id = UnicodeAttribute(null=True)
    waiting_exit_lane_id = UnicodeAttribute(null=True)
    abnormal_reason = UnicodeAttribute(null=True)
    # Cash a cashier took for this visit (part of `paid_fen`; the journal has it as provider "cash").
    cash_fen = NumberAttribute(default=0)
    # Staff corrections of this visit's plate: [{"old", "new", "who", "at"}].
    corrections = JSONAttribute(null=True)
    # Charging waives parking: {"session_id", "station_id", "minutes", "fen"}, once per visit.
    charging_waiver = JSONAttribute(null=True)
    # Merchant coupons given to this car during this stay (coupons.ports holds them): only a visit
    # with some asks for them at the exit and the quote.
    coupons_given = NumberAttribute(null=True)
    # Who the car was at entry (docs/identities.md): {"kind", "free", "card_id", "group",
    # "tariff_id"}; absent for a temporary car of before identities. The exit prices by it.
    identity = JSONAttribute(null=True)
    # Earlier unpaid exits of the plate this visit pays with its fee: {visit_id: fen}.
    arrears = JSONAttribute(null=True)
    arrears_fen = NumberAttribute(default=0)
    # A plateless car (无牌车): the driver whose lane QR scan opened its entry.
    plateless_user = UnicodeAttribute(null=True)
    # A paid reservation's car: the prepaid parking that pays its own fee first, and whose it is
    # ({"reservation_id", "payment_id"}); settled when the visit closes (docs/identities.md).
    prepaid_fen = NumberAttribute(default=0)
    reservation = JSONAttribute(null=True)

    by_plate = VisitsByPlate()
    inside_by_lot = VisitsInsideByLot()
    exited_by_lot = VisitsExitedByLot()
    by_id = VisitsById()


def lot_plate_key(lot_id: str, plate: str) -> str:
    return f"{lot_id}#{plate}"


# ----------------------------------------------------------------------------------------------
# Fee quotes (chargeBillNumber): what is due for a visit at one instant, valid for minutes.
#
# Access patterns:
# - get a quote by id (payment creation, driver view); expired quotes are removed by TTL and
#   refused by `expires_at` before that.


class Quote(Model):
    class Meta(TableMeta):
        table_name = table_name_for("quotes")

    quote_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    lot_plate = UnicodeAttribute()
    visit_id = UnicodeAttribute()
    plate = UnicodeAttribute()
    entered_at = UTCDateTimeAttribute()
    priced_until = UTCDateTimeAttribute()
    total_fen = NumberAttribute()
    paid_fen = NumberAttribute()
    discount_fen = NumberAttribute()
    due_fen = NumberAttribute()
    arrears_fen = NumberAttribute(null=True)  # earlier visits' arrears paid with this fee
    prepaid_fen = NumberAttribute(null=True)  # what a paid reservation's prepaid pays of it
    breakdown = JSONAttribute()
    discounts = JSONAttribute(default=list)
    tariff = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()


# ----------------------------------------------------------------------------------------------
# Records staff query and export (domain.md §2.1): abnormal entries, unmatched exits, abnormal
# releases, non-system openings (remote opens by staff or by a remote control, suspected
# tailgating), abnormal captures, plate corrections and manual matches, stale visits closed by
# staff, arrears (what an abnormal release let a car leave without paying).
# Cars in the lot and cars that left are the visits themselves (indexes `inside_by_lot` and
# `exited_by_lot`); payments are the payments' own listing.
#
# Keys: hash `lot_id`, range `record_key` = "{type}#{created_key}", where `created_key` =
# "{created_at ISO, ms}#{id}".
# Access patterns:
# - records of one type at a lot in time order, between two instants (range on record_key);
# - every record of a lot in time order (GSI `by_time`: range `created_key`);
# - the records of one plate at a lot in time order (GSI `by_plate`: hash `lot_plate`).

RECORD_ABNORMAL_ENTRY = "abnormal_entry"
RECORD_UNMATCHED_EXIT = "unmatched_exit"
RECORD_ABNORMAL_RELEASE = "abnormal_release"
RECORD_NON_SYSTEM_OPENING = "non_system_opening"
RECORD_ABNORMAL_CAPTURE = "abnormal_capture"
RECORD_CORRECTION = "correction"
RECORD_MANUAL_MATCH = "manual_match"
RECORD_STALE_CLOSED = "stale_closed"
RECORD_ARREARS = "arrears"
RECORD_TYPES = (
    RECORD_ABNORMAL_ENTRY,
    RECORD_UNMATCHED_EXIT,
    RECORD_ABNORMAL_RELEASE,
    RECORD_NON_SYSTEM_OPENING,
    RECORD_ABNORMAL_CAPTURE,
    RECORD_CORRECTION,
    RECORD_MANUAL_MATCH,
    RECORD_STALE_CLOSED,
    RECORD_ARREARS,
)


class RecordsByTime(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = "by_time"
        projection = AllProjection()

    lot_id = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class RecordsByPlate(GlobalSecondaryIndex["Record"]):
    class Meta:
        index_name = "by_plate"
        projection = AllProjection()

    lot_plate = UnicodeAttribute(hash_key=True)
    created_key = UnicodeAttribute(range_key=True)


class Record(Model):
    class Meta(TableMeta):
        table_name = table_name_for("records")

    lot_id = UnicodeAttribute(hash_key=True)
    record_key = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    plate = UnicodeAttribute()
    visit_id = UnicodeAttribute(null=True)
    detail = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
    created_key = UnicodeAttribute(null=True)
    lot_plate = UnicodeAttribute(null=True)

    by_time = RecordsByTime()
    by_plate = RecordsByPlate()


def time_key(at: datetime) -> str:
    """An instant as sortable text to the millisecond (UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def new_record(
    lot_id: str,
    record_type: str,
    plate: str,
    at: datetime,
    ref: str,
    *,
    visit_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> Record:
    """A record with every key its indexes need; `ref` makes it unique (a message or action id)."""
    created = f"{time_key(at)}#{ref}"
    return Record(
        lot_id,
        f"{record_type}#{created}",
        type=record_type,
        plate=plate,
        visit_id=visit_id,
        detail=detail or {},
        created_at=at,
        created_key=created,
        lot_plate=lot_plate_key(lot_id, plate),
    )


# ----------------------------------------------------------------------------------------------
# Live occupancy (free spaces) per lot: `inside` is changed in the same transaction as every
# entry, exit, release and stale close, conditionally (never below 0, never above the capacity;
# a change that would cross a bound leaves the count at the bound). A scheduled recount from the
# cars inside (`inside_by_lot`) corrects drift and records when it did.
#
# Keys: hash `lot_id`.
# Access patterns: get by lot (guidance-screen publish, staff view); update in the gate's
# transaction.


class Occupancy(Model):
    class Meta(TableMeta):
        table_name = table_name_for("occupancy")

    lot_id = UnicodeAttribute(hash_key=True)
    inside = NumberAttribute(default=0)
    capacity = NumberAttribute(default=0)
    updated_at = UTCDateTimeAttribute(null=True)
    recounted_at = UTCDateTimeAttribute(null=True)
    recount_drift = NumberAttribute(null=True)  # counted minus kept at the last recount


# ----------------------------------------------------------------------------------------------
# Tariffs, versioned. A version is never changed once written: editing a tariff writes the next
# version, and a visit keeps the versions that were in force when it entered.
#
# Keys: hash `tariff_id`, range `version` (1, 2, ...).
# Access patterns:
# - the latest version of a tariff (query descending, limit 1; cached with the lot's configuration);
# - one exact version (get; cached for good, versions are immutable);
# - an operator's tariffs (GSI `by_operator`, every version; the API keeps the latest of each).


class TariffsByOperator(GlobalSecondaryIndex["TariffVersion"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    tariff_id = UnicodeAttribute(range_key=True)


class TariffVersion(Model):
    class Meta(TableMeta):
        table_name = table_name_for("tariffs")

    tariff_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    definition = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()

    by_operator = TariffsByOperator()


# ----------------------------------------------------------------------------------------------
# Plates bound to driver accounts. A plate belongs to at most one account at a time.
#
# Access patterns:
# - who holds a plate (get by plate; ownership checks on every driver route);
# - a driver's plates (GSI `by_user`).


class PlatesByUser(GlobalSecondaryIndex["PlateBinding"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    plate = UnicodeAttribute(range_key=True)


class PlateBinding(Model):
    class Meta(TableMeta):
        table_name = table_name_for("plates")

    plate = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    bound_at = UTCDateTimeAttribute()

    by_user = PlatesByUser()


MODELS: list[type[Model]] = [
    Lot,
    Lane,
    Visit,
    Quote,
    Record,
    TariffVersion,
    PlateBinding,
    Occupancy,
    *IDENTITY_MODELS,
]
