"""Who is the car (domain.md §2.3): pure decisions, no I/O, `now` passed in.

The entry resolver walks the lot's precedence (configurable per lot; the default is the spec's:
special plates → card → blacklist → whitelist → visitor pass → arrears check → temporary) and
returns what the gate does, the remark (进场说明) and the display. A step that does not apply
passes; a card that cannot be used here (no lane permission, expired, count used up, group full)
leaves its reason in the remark of whatever the car becomes. The exit side decides the held car
(lock), open-gate mode (常开: what is owed becomes arrears) and what arrears the visit settles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from chalicelib.parking.domain import shared_spaces as sharing
from chalicelib.parking.domain.reservations import Offer
from chalicelib.shared.money import format_yuan

SPECIAL, CARD, BLACKLIST, WHITELIST, PASS, ARREARS = (
    "special",
    "card",
    "blacklist",
    "whitelist",
    "pass",
    "arrears",
)
STEPS = (SPECIAL, CARD, BLACKLIST, WHITELIST, PASS, ARREARS)
DEFAULT_PRECEDENCE = STEPS

# Card kinds: by time (monthly, yearly, valid from–to), by count (a visit uses one), stored value
# (储值: the fee is taken from the card's balance at exit).
BY_TIME, BY_COUNT, STORED_VALUE = "time", "count", "stored_value"
CARD_KINDS = (BY_TIME, BY_COUNT, STORED_VALUE)

# Special plates (Decision): police plates end in 警, armed-police plates start with WJ, embassy
# and consulate plates start with 使 or end in 使 / 领, military plates are two capital letters
# and five digits (e.g. VA12345) or start with 军. Lots may replace the list.
DEFAULT_SPECIAL_PATTERNS = (r"警$", r"^WJ", r"^使", r"使$", r"领$", r"^[A-Z]{2}\d{5}$", r"^军")


@dataclass(frozen=True)
class Options:
    """A lot's identity options (kept in the cached lot configuration)."""

    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    special_patterns: tuple[str, ...] = DEFAULT_SPECIAL_PATTERNS
    open_gate: bool = False  # 常开 for the whole lot
    open_gate_lanes: tuple[str, ...] = ()  # 常开 for these exit lanes
    arrears_blacklist_after: int = 0  # N unpaid exits put the plate on the blacklist (0: never)
    full_group_blocks_vip: bool = True  # a full group's other cars enter as temporary
    reservation_approval: str = "system"  # system: only card holders may invite; manual: staff
    paid_reservation: Offer = field(default_factory=Offer)  # fee + prepaid of a paid reservation

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Options:
        data = data or {}
        return cls(
            precedence=tuple(data.get("precedence") or DEFAULT_PRECEDENCE),
            special_patterns=tuple(
                data["special_patterns"]
                if data.get("special_patterns") is not None
                else DEFAULT_SPECIAL_PATTERNS
            ),
            open_gate=bool(data.get("open_gate", False)),
            open_gate_lanes=tuple(data.get("open_gate_lanes") or ()),
            arrears_blacklist_after=int(data.get("arrears_blacklist_after") or 0),
            full_group_blocks_vip=bool(data.get("full_group_blocks_vip", True)),
            reservation_approval=str(data.get("reservation_approval") or "system"),
            paid_reservation=Offer.from_dict(data.get("paid_reservation")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "precedence": list(self.precedence),
            "special_patterns": list(self.special_patterns),
            "open_gate": self.open_gate,
            "open_gate_lanes": list(self.open_gate_lanes),
            "arrears_blacklist_after": self.arrears_blacklist_after,
            "full_group_blocks_vip": self.full_group_blocks_vip,
            "reservation_approval": self.reservation_approval,
            "paid_reservation": self.paid_reservation.to_dict(),
        }

    def open_gate_at(self, lane_id: str) -> bool:
        return self.open_gate or lane_id in self.open_gate_lanes


def check_precedence(steps: Iterable[str]) -> tuple[str, ...]:
    """A precedence names every step once."""
    order = tuple(steps)
    if sorted(order) != sorted(STEPS):
        raise ValueError(f"precedence must name each of {', '.join(STEPS)} once")
    return order


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    out = tuple(patterns)
    for pattern in out:
        if len(pattern) > 100:
            raise ValueError("a special plate pattern is at most 100 characters")
        re.compile(pattern)
    return out


def is_special(plate: str, patterns: Iterable[str]) -> bool:
    return any(re.search(p, plate) for p in patterns)


@dataclass(frozen=True)
class CardType:
    """A VIP type (VIP类型): the lanes its cards may enter (None: every lane) and its own tariff
    (None: free while valid)."""

    type_id: str
    name: str
    lanes: tuple[str, ...] | None = None
    tariff_id: str | None = None


@dataclass(frozen=True)
class CardSnap:
    """A card as the plate's identity item holds it (written by staff with the card)."""

    card_id: str
    type_id: str
    kind: str
    valid_from: datetime | None
    valid_until: datetime | None
    spaces: int
    plates: tuple[str, ...]
    lent: tuple[sharing.Lent, ...] = ()  # windows lent to guests (shared spaces): a space fewer

    @property
    def grouped(self) -> bool:
        """Several spaces, several cars (多位多车): more plates than spaces, counted at entry."""
        return len(self.plates) > self.spaces

    @property
    def live(self) -> bool:
        """Entry needs the card item itself (the group's cars inside, the count left)."""
        return self.grouped or self.kind == BY_COUNT


@dataclass(frozen=True)
class CardState:
    """The card item read at entry when the snapshot is not enough."""

    version: int
    inside: Mapping[str, Mapping[str, Any]]  # plate → {"visit_id", "entered_at"}
    remaining_count: int


@dataclass(frozen=True)
class Window:
    """A list entry or a pass: valid from `starts` (None: always) to `ends` (None: for good)."""

    entry_id: str
    kind: str  # black | white | visitor | reservation
    starts: datetime | None
    ends: datetime | None
    reason: str = ""
    single_use: bool = False
    used: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)  # a shared pass: card, host plate, label
    prepaid_fen: int = 0  # a paid reservation's pass: the prepaid parking its visit carries
    paid: bool = False  # a paid reservation's pass: the stay is priced (not free)

    def active(self, now: datetime) -> bool:
        return (self.starts is None or self.starts <= now) and (self.ends is None or now < self.ends)


@dataclass(frozen=True)
class Identity:
    """What the gate knows of a plate at a lot (its identity item; absent: nothing)."""

    card: CardSnap | None = None
    windows: tuple[Window, ...] = ()
    locked: bool = False
    arrears: Mapping[str, int] = field(default_factory=dict)  # unpaid visit id → fen

    @property
    def arrears_fen(self) -> int:
        return sum(int(v) for v in self.arrears.values())


NOBODY = Identity()


@dataclass(frozen=True)
class Entry:
    """What the entry does. `kind` is what the visit is: special | card | whitelist | visitor |
    temporary; `refused` keeps the barrier down (blacklist, a full group that refuses)."""

    kind: str
    open_gate: bool
    remark: str
    display: tuple[str, ...]
    free: bool = False
    card_id: str | None = None
    tariff_id: str | None = None  # the card type's own tariff
    group: bool = False  # takes a space of the card's group
    uses_count: bool = False
    pass_id: str | None = None  # a single-use pass this entry uses up
    needs_card: bool = False  # read the card item and decide again
    arrears_fen: int = 0
    stored_value: bool = False  # the exit takes the fee from the card's balance
    shared: Mapping[str, Any] | None = None  # a shared space's window (the exit splits the fee)
    prepaid_fen: int = 0  # a paid reservation's prepaid parking, paid first at the exit

    @property
    def refused(self) -> bool:
        return not self.open_gate

    def to_visit(self) -> dict[str, Any]:
        """What the visit keeps of its identity (the exit prices by it; a stored-value card's
        visit says so, and its exit reads the card's balance)."""
        kept: dict[str, Any] = {
            "kind": self.kind,
            "free": self.free,
            "card_id": self.card_id,
            "group": self.group,
            "tariff_id": self.tariff_id,
        }
        if self.stored_value:
            kept["stored_value"] = True
        if self.shared:
            kept["shared"] = dict(self.shared)
        return kept


def _lending(card: CardSnap, now: datetime) -> tuple[CardSnap | None, str]:
    """The card while some of its spaces are lent (shared spaces): one space fewer per window
    lent now; None when no space is left. Fewer spaces than plates makes it count its cars inside
    as a group does (cars that entered before the window are not counted, nor sent out)."""
    if not card.lent:
        return card, ""
    left, active = sharing.spaces_left(card.spaces, card.lent, now)
    if not active:
        return card, ""
    note = sharing.lent_note(active)
    return (replace(card, spaces=left) if left else None), note


def _since(at: Any) -> str:
    text = str(at or "")
    return text[11:16] if len(text) >= 16 else text


def _card_reason(
    card: CardSnap,
    types: Mapping[str, CardType],
    lane_id: str,
    plate: str,
    now: datetime,
    state: CardState | None,
    options: Options,
) -> str | None:
    """Why this card does not make the car VIP here (None: it does)."""
    if card.valid_from is not None and now < card.valid_from:
        return f"卡 {card.card_id} 尚未生效"
    if card.valid_until is not None and now >= card.valid_until:
        return f"卡 {card.card_id} 已过期"
    card_type = types.get(card.type_id)
    if card_type is None:
        return f"卡类型 {card.type_id} 不存在"
    if card_type.lanes is not None and lane_id not in card_type.lanes:
        return f"{card_type.name}无车道 {lane_id} 权限"
    if state is None:
        return None
    if card.kind == BY_COUNT and state.remaining_count <= 0:
        return f"卡 {card.card_id} 次数已用完"
    if card.grouped and options.full_group_blocks_vip:
        others = {p: v for p, v in state.inside.items() if p != plate}
        if len(others) >= card.spaces:
            listed = ", ".join(f"{p}({_since(v.get('entered_at'))}入场)" for p, v in sorted(others.items()))
            return f"多位多车车位已满 ({card.spaces}位), 在场: {listed}"
    return None


def resolve_entry(
    plate: str,
    lane_id: str,
    now: datetime,
    options: Options,
    identity: Identity,
    types: Mapping[str, CardType],
    state: CardState | None = None,
    already_inside: bool = False,
) -> Entry:
    """The car's identity at this entry lane. A card that needs its live state (group, count)
    and was not given it answers `needs_card` (the gate reads the card and asks again)."""
    notes: list[str] = []
    arrears = identity.arrears_fen
    if already_inside:
        notes.append("该车牌已在场, 前一条在场记录转为异常进场")

    def done(kind: str, remark: str, display: tuple[str, ...], **kw: Any) -> Entry:
        text = "; ".join([remark, *notes])
        return Entry(kind, kw.pop("open_gate", True), text, display, arrears_fen=arrears, **kw)

    for step in options.precedence:
        if step == SPECIAL and is_special(plate, options.special_patterns):
            return done("special", "特殊车辆入场 (军警/使馆, 免费)", (plate, "特殊车辆 请通行"), free=True)
        if step == CARD and identity.card is not None:
            card, lent = _lending(identity.card, now)
            if card is None:  # every space lent now: the owner's cars are temporary
                notes.append(f"转临时车: {lent}")
                continue
            if card.live and state is None:
                pre = _card_reason(card, types, lane_id, plate, now, None, options)
                if pre is None:
                    return Entry("card", True, "", (plate,), card_id=card.card_id, needs_card=True)
            reason = _card_reason(card, types, lane_id, plate, now, state, options)
            if reason is not None:
                notes.append(f"转临时车: {reason}" + (f"; {lent}" if lent else ""))
                continue
            card_type = types[card.type_id]
            return done(
                "card",
                f"{card_type.name}入场 (卡 {card.card_id})",
                (plate, card_type.name, "欢迎光临"),
                # A stored-value card pays its fee (by its own tariff, else the lot's) at exit.
                free=card_type.tariff_id is None and card.kind != STORED_VALUE,
                card_id=card.card_id,
                tariff_id=card_type.tariff_id,
                group=card.grouped,
                uses_count=card.kind == BY_COUNT,
                stored_value=card.kind == STORED_VALUE,
            )
        if step == BLACKLIST:
            black = next((w for w in identity.windows if w.kind == "black" and w.active(now)), None)
            if black is not None:
                why = f"黑名单车辆, 禁止入场 ({black.reason})" if black.reason else "黑名单车辆, 禁止入场"
                return done("blacklist", why, (plate, "黑名单车辆", "禁止通行"), open_gate=False)
        if step == WHITELIST:
            white = next((w for w in identity.windows if w.kind == "white" and w.active(now)), None)
            if white is not None:
                return done("whitelist", "白名单车辆入场 (免费)", (plate, "欢迎光临"), free=True)
        if step == PASS:
            visitor = next(
                (
                    w
                    for w in identity.windows
                    if w.kind in ("visitor", "reservation") and w.active(now) and not w.used
                ),
                None,
            )
            if visitor is not None:
                paid = f" (付费预约, 预付 {format_yuan(visitor.prepaid_fen)}元)" if visitor.paid else ""
                return done(
                    visitor.kind,
                    ("预约车辆入场" if visitor.kind == "reservation" else "访客车辆入场")
                    + (" (单次通行证)" if visitor.single_use else "")
                    + paid,
                    (plate, "访客 欢迎光临"),
                    free=not visitor.paid,
                    pass_id=visitor.entry_id if visitor.single_use else None,
                    prepaid_fen=visitor.prepaid_fen if visitor.paid else 0,
                )
            guest = sharing.guest_pass(identity.windows, now)
            if guest is not None:  # a shared space: priced before and after its window
                return done(
                    sharing.SHARED,
                    sharing.guest_remark(guest),
                    (plate, "共享车位 欢迎光临"),
                    pass_id=guest.entry_id,
                    shared=sharing.kept(guest),
                )
        if step == ARREARS and arrears > 0:
            notes.append(f"有欠费 {format_yuan(arrears)}元, 随下次缴费补缴")
    return done("temporary", "临时车入场", (plate, "欢迎光临"))


@dataclass(frozen=True)
class ExitRule:
    """What the exit does beyond the fee: `held` (a locked car: the barrier stays down),
    `owed_fen` (open-gate mode: the car leaves, this becomes arrears)."""

    held: bool = False
    owed_fen: int = 0
    display: tuple[str, ...] = ()


def exit_rule(plate: str, lane_id: str, due_fen: int, options: Options, identity: Identity) -> ExitRule:
    if identity.locked:
        return ExitRule(held=True, display=(plate, "车辆已锁定", "请车主解锁后出场"))
    if due_fen > 0 and options.open_gate_at(lane_id):
        return ExitRule(owed_fen=due_fen, display=(plate, f"欠费 {format_yuan(due_fen)}元", "下次缴纳"))
    return ExitRule()


def settled_arrears(arrears: Mapping[str, int], net_fee_fen: int, paid_fen: int) -> dict[str, int]:
    """The earlier visits' arrears a closing visit settles: all of them when what was paid covers
    this visit's fee and the arrears, none otherwise (they stay owed)."""
    total = sum(int(v) for v in arrears.values())
    if total > 0 and paid_fen >= max(0, net_fee_fen) + total:
        return {k: int(v) for k, v in arrears.items()}
    return {}


def own_arrears(owed_fen: int, carried_fen: int) -> int:
    """What a visit let out in open-gate mode owes of its own: its due less the earlier visits'
    arrears it carried (they stay owed under their own visits)."""
    return max(0, owed_fen - max(0, carried_fen))


def blacklists_after(unpaid_exits: int, threshold: int) -> bool:
    """N unpaid exits (per lot) put the plate on the blacklist automatically."""
    return threshold > 0 and unpaid_exits >= threshold


def balance_split(balance_fen: int, due_fen: int) -> tuple[int, int]:
    """A stored-value card at the exit: (taken from the balance, left to pay as a temporary car).
    Decision: all or nothing — a balance that covers the fee pays all of it, a smaller one pays
    nothing and stays whole (the car pays the whole fee as a temporary car would; one payment,
    one refund path). Never below zero."""
    due = max(0, due_fen)
    if 0 < due <= balance_fen:
        return due, 0
    return 0, due
