"""Typed input and output of the identity routes (docs/identities.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from chalicelib.parking.contract import Strict
from chalicelib.shared.types import Count, Id, Instant, Name, Plate

LaneIds = Annotated[list[Id], msgspec.Meta(max_length=50)]
Reason = Annotated[str, msgspec.Meta(max_length=200)]
Step = Annotated[
    str, msgspec.Meta(max_length=20, description="special, card, blacklist, whitelist, pass, arrears")
]
Pattern = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, description="a regular expression on the plate")
]


class PaidReservationOffer(Strict, kw_only=True):
    """A paid reservation's fixed fee and prepaid parking amount (both 0: not offered)."""

    fee_fen: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    prepaid_fen: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0


class OptionsIn(Strict, kw_only=True):
    """Fields left out keep their value."""

    precedence: Annotated[list[Step], msgspec.Meta(max_length=6)] | None = None
    special_patterns: Annotated[list[Pattern], msgspec.Meta(max_length=30)] | None = None
    open_gate: bool | None = None
    open_gate_lanes: LaneIds | None = None
    arrears_blacklist_after: Annotated[int, msgspec.Meta(ge=0, le=100)] | None = None
    full_group_blocks_vip: bool | None = None
    reservation_approval: Annotated[str, msgspec.Meta(pattern="^(system|manual)$")] | None = None
    paid_reservation: PaidReservationOffer | None = None


class OptionsOut(msgspec.Struct):
    precedence: list[str]
    special_patterns: list[str]
    open_gate: bool
    open_gate_lanes: list[str]
    arrears_blacklist_after: int
    full_group_blocks_vip: bool
    reservation_approval: str
    paid_reservation: dict[str, int] | None = None


class CardTypeIn(Strict, kw_only=True):
    """`lanes`: the lanes its cards may enter (absent: every lane); `tariff_id`: its own tariff,
    which outranks every other (absent: free while valid)."""

    name: Name
    lanes: LaneIds | None = None
    tariff_id: Id | None = None


class CardIn(Strict, kw_only=True):
    """`kind`: time (valid from–to), count (`count` visits) or stored_value (the fee is taken from
    the balance at exit; load it with top-ups). Fewer
    `spaces` than `plates` makes a several-car group (多位多车); default: one space per plate."""

    type_id: Id
    kind: Annotated[str, msgspec.Meta(max_length=12)] = "time"
    owner: Name
    plates: Annotated[list[Plate], msgspec.Meta(min_length=1, max_length=20)]
    spaces: Annotated[int, msgspec.Meta(ge=1, le=20)] | None = None
    valid_from: Instant | None = None
    valid_until: Instant | None = None
    count: Annotated[int, msgspec.Meta(ge=0, le=100_000)] | None = None


class ListIn(Strict, kw_only=True):
    """A blacklist entry (refused), a whitelist entry (free) or a visitor pass (访客, free; with
    `single_use` its first entry uses it up) for its window; it reverts by itself."""

    plate: Plate
    kind: Annotated[str, msgspec.Meta(max_length=10, description="black, white or visitor")]
    starts: Instant | None = None
    ends: Instant | None = None
    reason: Reason | None = None
    single_use: bool = False


class LockIn(Strict, kw_only=True):
    lot_id: Id
    plate: Plate
    locked: bool


class LockOut(msgspec.Struct):
    lot_id: str
    plate: str
    locked: bool


class ScanIn(Strict, kw_only=True):
    """What the lane's QR code holds, and the app's id for this scan (a repeat changes nothing)."""

    lot_id: Id
    lane_id: Id
    scan_id: Id


class ScanOut(msgspec.Struct):
    result: str
    plate: str
    visit_id: str | None
    due_fen: Count


class QrOut(msgspec.Struct):
    lot_id: str
    lane_id: str
    qr: str


class CardTypeOut(msgspec.Struct):
    id: str
    name: str
    lanes: list[str] | None
    tariff_id: str | None
    updated_at: str


class CardTypesOut(msgspec.Struct):
    lot_id: str
    items: list[CardTypeOut]


class CardOut(msgspec.Struct):
    """`inside`: the group's cars inside now (plate → visit id and entry time)."""

    id: str
    card_id: str
    type_id: str
    kind: str
    owner: str
    plates: list[str]
    spaces: int
    valid_from: str | None
    valid_until: str | None
    remaining_count: int
    inside: dict[str, dict[str, str]]
    updated_at: str
    balance_fen: int = 0  # a stored-value card's balance


class TopUpIn(Strict, kw_only=True):
    """Value loaded onto a stored-value card. `top_up_id`: the caller's key (a repeat with the
    same key loads nothing more); `method`: how the money was taken."""

    top_up_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    amount_fen: Annotated[int, msgspec.Meta(ge=1, le=100_000_000)]
    method: Literal["cash", "third_party"] = "cash"


class TopUpOut(msgspec.Struct):
    lot_id: str
    card_id: str
    top_up_id: str
    amount_fen: int
    balance_fen: int


class CardsOut(msgspec.Struct):
    lot_id: str
    items: list[CardOut]


class WindowOut(msgspec.Struct):
    """A list entry (kind black / white; `auto` for the arrears blacklist) or a visitor pass."""

    id: str
    plate: str
    kind: str
    starts: str | None
    ends: str | None
    reason: str
    single_use: bool
    updated_at: str


class WindowsOut(msgspec.Struct):
    lot_id: str
    items: list[WindowOut]


class DeletedOut(msgspec.Struct):
    lot_id: str
    id: str
    deleted: bool


class ReservationIn(Strict, kw_only=True):
    """A guest `plate` at `lot_id` for a future window. With system approval (the lot's default)
    `host_plate` is the inviting driver's plate holding a card of the lot. `paid`: a paid
    reservation (the lot's fee + prepaid parking; no host, no approval), for any plate."""

    lot_id: Id
    plate: Plate
    starts: Instant
    ends: Instant
    host_plate: Plate | None = None
    paid: bool = False


class ReservationOut(msgspec.Struct):
    """`status`: approved (its pass is written) or pending (an approval waits: `approval_id`)."""

    reservation_id: str
    lot_id: str
    plate: str
    host_plate: str | None
    starts: str
    ends: str
    status: str
    approval: str
    approval_id: str | None
    # a paid reservation: awaiting_payment | paid | used | cancelled | no_show
    paid: bool = False
    fee_fen: int | None = None
    prepaid_fen: int | None = None
    total_fen: int | None = None
    payment_id: str | None = None
    owed_back_fen: int | None = None


class ReservationsOut(msgspec.Struct):
    items: list[ReservationOut]


class LotReservationsOut(msgspec.Struct):
    lot_id: str
    items: list[ReservationOut]


class ReservationPaymentIn(Strict, kw_only=True):
    """`method`: sandbox, wechat or alipay; `payer_id`: the WeChat openid or Alipay buyer_id."""

    method: Annotated[str, msgspec.Meta(max_length=20)]
    payer_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None


class ReservationPaymentOut(msgspec.Struct):
    reservation: ReservationOut
    payment: dict[str, Any]
    provider_order: dict[str, Any]


class SharedSpaceIn(Strict, kw_only=True):
    """A card owner lends a future window (at most 31 days) of the space of `host_plate` (the
    caller's plate holding a time card of the lot, valid over the whole window) to the guest
    `plate`."""

    lot_id: Id
    host_plate: Plate
    plate: Plate
    starts: Instant
    ends: Instant


class SharedSpaceOut(msgspec.Struct):
    """`status`: active or withdrawn; who lent it and when, who withdrew it and when; `label`: the
    window in the lot's local time."""

    share_id: str
    lot_id: str
    host_plate: str
    card_id: str
    plate: str
    starts: str
    ends: str
    label: str
    status: str
    lent_by: str
    lent_at: str
    withdrawn_by: str | None
    withdrawn_at: str | None


class SharedSpacesOut(msgspec.Struct):
    lot_id: str
    items: list[SharedSpaceOut]


class LotQuery(msgspec.Struct, kw_only=True):
    lot_id: Id
