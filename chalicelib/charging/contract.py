"""Charging's typed HTTP input and output (msgspec Structs): what api.py decodes bodies into, what
the use cases take, and what the OpenAPI document shows."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

import msgspec

from chalicelib.shared.types import (
    Count,
    Fen,
    Id,
    Instant,
    Name,
    PositiveFen,
    ShortText,
    Timestamp,
    Version,
    Zone,
)

MAX_PREVIEW_SPAN = timedelta(days=31)  # a charging preview covers at most a month of readings
Wh = Annotated[int, msgspec.Meta(ge=0, le=10**10, description="energy in Wh")]
Definition = Annotated[
    dict[str, Any],
    msgspec.Meta(
        description="a charging tariff definition (docs/charging-tariffs.md): EV `kind` uniform or "
        "time_of_use, e-bike `kind` duration or power_band; unknown fields are refused",
        examples=[{"kind": "uniform", "electricity": 8000, "service": 4000}],
    ),
]
TariffKind = Literal["ev", "ebike"]


class Strict(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A request body: unknown fields are refused."""


# --- input -----------------------------------------------------------------------------------


class StartIn(Strict):
    qr_id: Id
    prepay_fen: PositiveFen | None = None
    plate: Annotated[str, msgspec.Meta(max_length=32)] | None = None


class Area(Strict):
    name: ShortText = ""
    power_limit_w: Annotated[int, msgspec.Meta(ge=0, le=100_000_000)] = 0


class Waiver(Strict):
    lot_id: Id
    minutes: Annotated[int, msgspec.Meta(ge=1, le=1440)] | None = None
    fen: PositiveFen | None = None


class StationIn(Strict, kw_only=True):
    station_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"\S")] | None = None
    name: Name
    timezone: Zone = "Asia/Shanghai"
    areas: dict[Annotated[str, msgspec.Meta(min_length=1, max_length=40)], Area] = {}
    min_balance_fen: Annotated[int, msgspec.Meta(ge=0, le=100_000)] = 100
    parking_waiver: Waiver | None = None


class StationTariffIn(Strict):
    tariff_id: Id


class ChargerIn(Strict):
    charger_id: Annotated[str, msgspec.Meta(min_length=1, max_length=40, pattern=r"\S")]
    station_id: Id
    connector_count: Annotated[int, msgspec.Meta(ge=1, le=24)] = 1
    kind: Literal["ev", "ebike"] = "ev"
    area_id: ShortText | None = None
    serial: ShortText | None = None
    model: ShortText | None = None
    firmware_main: ShortText | None = None
    firmware_screen: ShortText | None = None
    current_type: Literal["AC", "DC"] = "DC"
    rated_power_w: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class CommandIn(Strict):
    action: Literal["Reset", "ChangeAvailability", "TriggerMessage", "RemoteStopTransaction"]
    payload: dict[str, Any] = {}


class ChargingTariffIn(Strict, kw_only=True):
    name: Name | None = None
    kind: TariffKind = "ev"
    definition: Definition
    timezone: Zone = "Asia/Shanghai"


class ChargingPreviewIn(Strict, kw_only=True):
    """`readings` ([[time, Wh], ...]), or `started_at` + `minutes` + `energy_wh`."""

    kind: TariffKind = "ev"
    definition: Definition
    timezone: Zone = "Asia/Shanghai"
    readings: Annotated[list[tuple[Instant, Wh]], msgspec.Meta(max_length=2000)] | None = None
    started_at: Instant | None = None
    minutes: Annotated[int, msgspec.Meta(ge=0, le=MAX_PREVIEW_SPAN.days * 1440)] | None = None
    energy_wh: Wh = 0
    max_power_w: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


# --- output ----------------------------------------------------------------------------------


class SessionOut(msgspec.Struct):
    session_id: str
    state: str
    station_id: str
    charger_id: str
    connector_id: Count
    plate: str | None
    transaction_id: int | None
    tariff: dict[str, Any] | None
    prepaid_fen: Fen
    energy_wh: Count
    cost_fen: Fen
    remaining_fen: int
    created_at: Timestamp
    started_at: Timestamp | None
    ended_at: Timestamp | None
    end_reason: str | None
    abnormal_reason: str | None
    refunded_fen: Fen
    bill: dict[str, Any] | None


class SessionsOut(msgspec.Struct):
    sessions: list[SessionOut]


class BillOut(msgspec.Struct):
    session_id: str
    state: str
    total_fen: Fen


class StationOut(msgspec.Struct):
    station_id: str
    name: str
    timezone: str
    areas: dict[str, Any] | None
    tariff_id: str | None
    min_balance_fen: Fen
    parking_waiver: dict[str, Any] | None


class StationsOut(msgspec.Struct):
    stations: list[StationOut]


class ConnectorOut(msgspec.Struct):
    connector_id: Count
    status: str
    session_id: str | None
    qr_id: str


class ChargerOut(msgspec.Struct):
    charger_id: str
    kind: str | None
    area_id: str | None
    serial: str | None
    model: str | None
    vendor: str | None
    firmware_main: str | None
    firmware_screen: str | None
    current_type: str | None
    rated_power_w: Count
    online: bool
    last_seen_at: Timestamp | None
    connectors: list[ConnectorOut]


class StationDetailOut(StationOut):
    chargers: list[ChargerOut]


class CreatedChargerOut(msgspec.Struct):
    charger_id: str
    connector_count: Count
    qr_ids: list[str]


class CommandSentOut(msgspec.Struct):
    message_id: str
    action: str
    status: str


class CommandOut(msgspec.Struct):
    message_id: str
    action: str
    status: str
    sent_at: Timestamp
    finished_at: Timestamp | None
    detail: Any


class CommandsOut(msgspec.Struct):
    charger_id: str
    commands: list[CommandOut]


class ChargingTariffOut(msgspec.Struct):
    tariff_id: str
    version: Version
    name: str
    kind: str
    definition: dict[str, Any]
    effective_from: Timestamp
    created_at: Timestamp


class ChargingPreviewOut(msgspec.Struct):
    total_fen: Fen
