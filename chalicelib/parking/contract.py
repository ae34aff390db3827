"""Parking's typed HTTP input and output (msgspec Structs): what api.py decodes bodies and query
strings into, what the use cases take, and what the OpenAPI document shows."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import msgspec

from chalicelib.shared.types import Count, Fen, Id, Instant, Name, Plate, Timestamp, Version, Zone

MAX_PREVIEW_DAYS = 3 * 366
Definition = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="a tariff definition (docs/tariffs.md): `kind` is one of per_visit, duration, "
        "segments, tiered, free; unknown fields are refused",
        examples=[
            {
                "kind": "duration",
                "free_minutes": 15,
                "unit_minutes": 30,
                "unit_fen": 200,
                "cap_per_cycle_fen": 3000,
            },
            {"kind": "per_visit", "amount_fen": 1000},
        ],
    ),
]
Holidays = Annotated[list[date], msgspec.Meta(max_length=400)]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused."""


# --- input -----------------------------------------------------------------------------------


class PlateIn(Strict):
    plate: Plate


class PlateQuery(msgspec.Struct, kw_only=True):
    plate: Plate


class QuoteIn(Strict):
    plate: Plate
    lot_id: Id | None = None
    # merchant coupons to use (identical ones, at most 3); none named: the best choice is used
    coupon_ids: Annotated[list[Id], msgspec.Meta(max_length=3)] | None = None


class LotVisitsQuery(msgspec.Struct, kw_only=True):
    status: Annotated[str, msgspec.Meta(max_length=20)] = "inside"


class RecordsQuery(msgspec.Struct, kw_only=True):
    """`type`: one record type (or `inside`, `exited`), every stored type when absent; `plate`;
    `from` / `to` (ISO 8601 with Z) or `day` (the lot's local date, YYYY-MM-DD); `cursor` (the
    page before's `next_cursor`); `format=csv` for the export (every page, the cashier's columns,
    times in the lot's zone)."""

    type: Annotated[str, msgspec.Meta(max_length=40)] = ""
    plate: Plate | None = None
    since: Instant | None = msgspec.field(default=None, name="from")
    until: Instant | None = msgspec.field(default=None, name="to")
    day: date | None = None
    cursor: Annotated[str, msgspec.Meta(max_length=2048)] | None = None
    limit: Annotated[int, msgspec.Meta(ge=1, le=500)] = 100
    format: Annotated[str, msgspec.Meta(max_length=8)] = "json"


Reason = Annotated[
    str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S", description="why (required)")
]


class ReleaseIn(Strict):
    """The car at this exit: its open visit (`visit_id`), or its plate (none found: an entry is
    synthesised); `amount_fen` cash taken (0: all waived, or all owed with `as_arrears`)."""

    reason: Reason
    visit_id: Id | None = None
    plate: Plate | None = None
    amount_fen: Fen = 0
    # what the cash does not cover is the plate's arrears (paid with its next fee), not waived
    as_arrears: bool = False


class OpenIn(Strict):
    """At an exit, naming the car (`visit_id` or `plate`) settles it as an abnormal release."""

    reason: Reason
    visit_id: Id | None = None
    plate: Plate | None = None
    amount_fen: Fen = 0


class MatchIn(Strict):
    visit_id: Id
    read_plate: Plate | None = None
    reason: Reason | None = None


class CorrectionIn(Strict):
    read_plate: Plate
    plate: Plate
    reason: Reason | None = None


class CashIn(Strict):
    """Cash at the booth: what is kept (`amount_fen`), what was handed over (`tendered_fen`), or
    both; without `amount_fen` the booth keeps what the visit owes and gives the rest as change.
    Above the lot's threshold the cashier sends it again with `confirmed: true`."""

    amount_fen: Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="cash kept, in fen")] | None = (
        None
    )
    tendered_fen: (
        Annotated[int, msgspec.Meta(ge=1, le=100_000_000, description="cash handed over, in fen")] | None
    ) = None
    confirmed: bool = False


class CashOut(msgspec.Struct):
    """A cash payment at the booth: the gate's part as for any staff action, and the till's."""

    action: str
    visit_id: str | None
    result: str | None
    due_fen: Fen
    commands: list[SentCommandOut]
    shift_id: str
    tendered_fen: Fen
    amount_fen: Fen
    change_fen: Fen


class ArrearsPartOut(msgspec.Struct):
    visit_id: str
    amount_fen: Fen


class ArrearsOut(msgspec.Struct):
    """What a plate owes at a lot, by earlier visit (unpaid exits); `auto_blacklisted`: the
    automatic arrears blacklist holds it; `carried_by_visit`: its visit inside pays them."""

    lot_id: str
    plate: str
    arrears_fen: Fen
    visits: list[ArrearsPartOut]
    auto_blacklisted: bool
    carried_by_visit: bool


class ArrearsQuery(msgspec.Struct, kw_only=True):
    lot_id: Id
    plate: Plate


class ArrearsCashOut(msgspec.Struct):
    """A plate's arrears taken in cash at the booth: the till's part, what each visit got and the
    automatic blacklist entries lifted."""

    lot_id: str
    plate: str
    shift_id: str
    payment_id: str
    tendered_fen: Fen
    amount_fen: Fen
    change_fen: Fen
    visits: list[ArrearsPartOut]
    lifted: list[str]


class BoothPolicyIn(Strict):
    confirm_above_fen: Fen


class BoothPolicyOut(msgspec.Struct):
    lot_id: str
    confirm_above_fen: Fen


class ShiftReleasesOut(msgspec.Struct):
    count: Count
    cash_fen: Fen
    waived_fen: Fen


class ShiftOut(msgspec.Struct):
    """A cashier's shift and what it took (so far while open; at the close once closed)."""

    shift_id: str
    lot_id: str
    cashier_id: str
    status: str
    opened_at: Timestamp
    closed_at: Timestamp | None
    payments: Count
    cash_fen: Fen
    tendered_fen: Fen
    change_fen: Fen
    by_method: dict[str, Fen]
    total_cash_fen: Fen
    abnormal_releases: ShiftReleasesOut


class ShiftsOut(msgspec.Struct):
    lot_id: str
    shifts: list[ShiftOut]


class CloseIn(Strict):
    reason: Reason


class VersionQuery(msgspec.Struct, kw_only=True):
    version: Version | None = None


class TariffIn(Strict):
    name: Name
    definition: Definition


class TariffUpdate(Strict, kw_only=True):
    name: Name | None = None
    definition: Definition


class PreviewIn(Strict):
    """Price a stay: an inline `tariff`, a stored `tariff_id` (+ `version`), or a `lot_id` with a
    `vehicle_class`; from `entered_at` (default now) to `exited_at` or for `duration_minutes`."""

    lot_id: Id | None = None
    vehicle_class: Annotated[str, msgspec.Meta(max_length=20)] = "small"
    tariff_id: Id | None = None
    version: Version | None = None
    tariff: Definition | None = None
    holiday_tariff: Definition | None = None
    holidays: Holidays | None = None
    timezone: Zone = "Asia/Shanghai"
    entered_at: Instant | None = None
    exited_at: Instant | None = None
    duration_minutes: Annotated[int, msgspec.Meta(ge=0, le=MAX_PREVIEW_DAYS * 1440)] | None = None


class PlanEntry(Strict):
    tariff_id: Id
    holiday_tariff_id: Id | None = None


class TariffPlanIn(Strict):
    small: PlanEntry
    large: PlanEntry
    other: PlanEntry
    holidays: Holidays | None = None
    grace_minutes: Annotated[int, msgspec.Meta(ge=0, le=240)] | None = None


# --- output ----------------------------------------------------------------------------------


class PlateOut(msgspec.Struct):
    plate: str
    bound_at: Timestamp


class PlatesOut(msgspec.Struct):
    plates: list[PlateOut]


class VisitOut(msgspec.Struct):
    visit_id: str
    lot_id: str
    plate: str
    vehicle_class: str | None
    status: str
    entered_at: Timestamp | None
    entry_lane_id: str | None
    entry_remark: str | None
    exited_at: Timestamp | None
    exit_lane_id: str | None
    total_fen: Fen
    paid_fen: Fen
    discount_fen: Fen
    paid_at: Timestamp | None
    abnormal_reason: str | None
    charging_waiver: dict[str, Any] | None
    cash_fen: Fen = 0
    exit_remark: str | None = None
    corrections: list[dict[str, Any]] = []


class PlateVisitsOut(msgspec.Struct):
    plate: str
    visits: list[VisitOut]


class QuoteOut(msgspec.Struct):
    quote_id: str
    visit_id: str
    lot_id: str
    plate: str
    entered_at: Timestamp | None
    priced_until: Timestamp | None
    total_fen: Fen
    paid_fen: Fen
    discount_fen: Fen
    due_fen: Fen
    breakdown: list[dict[str, Any]] | None
    discounts: list[dict[str, Any]]
    tariff: dict[str, Any] | None
    expires_at: Timestamp | None


class LotSummary(msgspec.Struct):
    lot_id: str
    name: str
    timezone: str


class LotsOut(msgspec.Struct):
    lots: list[LotSummary]


class LaneOut(msgspec.Struct):
    lane_id: str
    name: str | None
    direction: str
    gate_id: str | None
    device_ids: list[str]


class LotOut(msgspec.Struct):
    lot_id: str
    name: str
    operator_id: str
    timezone: str
    capacity: Count
    grace_minutes: Count
    tariff_plan: dict[str, Any] | None
    holidays: list[str]
    lanes: list[LaneOut]


class LotVisitsOut(msgspec.Struct):
    lot_id: str
    visits: list[VisitOut]


class RecordOut(msgspec.Struct):
    type: str
    plate: str | None
    visit_id: str | None
    detail: dict[str, Any] | None
    created_at: Timestamp | None


class RecordsOut(msgspec.Struct):
    lot_id: str
    type: str
    records: list[RecordOut]
    next_cursor: str | None = None


class SentCommandOut(msgspec.Struct):
    correlation_id: str
    device_id: str
    command: str
    message: dict[str, Any]


class OpsOut(msgspec.Struct):
    """What a staff action did: its visit, the gate's decision at an exit, and the commands it sent."""

    action: str
    visit_id: str | None
    result: str | None
    due_fen: Fen
    commands: list[SentCommandOut]


class OccupancyOut(msgspec.Struct):
    lot_id: str
    capacity: Count
    inside: Count
    free: Count
    updated_at: Timestamp | None
    recounted_at: Timestamp | None


class TariffOut(msgspec.Struct):
    tariff_id: str
    version: Version
    name: str
    definition: dict[str, Any]
    created_at: Timestamp
    created_by: str | None


class TariffsOut(msgspec.Struct):
    tariffs: list[TariffOut]


class PreviewOut(msgspec.Struct):
    total_fen: Fen
    stay_minutes: Count
    breakdown: list[dict[str, Any]]
    tariff: dict[str, Any]
    entered_at: Timestamp
    exited_at: Timestamp


class TariffPlanOut(msgspec.Struct):
    lot_id: str
    tariff_plan: dict[str, Any] | None
    holidays: list[str]
    grace_minutes: Count
