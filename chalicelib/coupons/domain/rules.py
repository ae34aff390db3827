"""Coupon rules (docs/coupons.md): pure, integer fen, `now` passed in.

Kinds: `amount` (减免金额, `value` fen off), `time` (减时, `value` minutes removed from the end of
the stay and the shorter stay priced by the fee engine), `percent` (折扣, `value` percent off the
fee) and `release` (全免/放行券, the whole fee, up to `cap_fen` when set).

Stacking: only identical coupons (same kind, value and cap) stack, at most `MAX_STACK`; different
ones never combine. Choice: every usable coupon and stack is priced and the one saving most is
used (fewest coupons on a tie, then the ones expiring first); none when nothing saves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

KINDS = ("amount", "time", "percent", "release")
MAX_STACK = 3
PERIODS = ("day", "week", "month")
MAX_VALUE = {"amount": 100_000_000, "time": 525_600, "percent": 100, "release": 0}

LABELS = {"amount": "减免", "time": "减时", "percent": "折扣", "release": "全免"}


class CouponRuleError(ValueError):
    """A coupon definition or a choice that breaks the rules (the message says which)."""


@dataclass(frozen=True)
class Face:
    """What makes two coupons identical."""

    kind: str
    value: int  # amount: fen; time: minutes; percent: percent off; release: 0
    cap_fen: int | None = None  # release only: the most it covers

    def label(self, count: int) -> str:
        if self.kind == "amount":
            text = f"减免 {self.value} 分"
        elif self.kind == "time":
            text = f"减时 {self.value} 分钟"
        elif self.kind == "percent":
            text = f"折扣 {self.value}%"
        else:
            text = "全免" + (f" (最高 {self.cap_fen} 分)" if self.cap_fen is not None else "")
        return f"商家券 {text}" + (f" ×{count}" if count > 1 else "")


def check_face(face: Face) -> None:
    if face.kind not in KINDS:
        raise CouponRuleError(f"kind must be one of {', '.join(KINDS)}")
    if face.kind == "release":
        if face.value != 0:
            raise CouponRuleError("a release coupon has no value (it covers the fee, up to cap_fen)")
        if face.cap_fen is not None and not 1 <= face.cap_fen <= MAX_VALUE["amount"]:
            raise CouponRuleError("cap_fen must be between 1 and 100000000")
        return
    if face.cap_fen is not None:
        raise CouponRuleError("only a release coupon has a cap")
    if not 1 <= face.value <= MAX_VALUE[face.kind]:
        raise CouponRuleError(f"a {face.kind} coupon's value must be between 1 and {MAX_VALUE[face.kind]}")


def batch_price(face: Face, quantity: int) -> int:
    """What a merchant pays for a batch it buys, in fen: face value × quantity (an amount coupon's
    value, a release coupon's cap, the most it can take off). Time and percent coupons, and
    uncapped release coupons, have no face value in fen: they are not sold."""
    if face.kind == "amount":
        return face.value * quantity
    if face.kind == "release" and face.cap_fen is not None:
        return face.cap_fen * quantity
    raise CouponRuleError(
        "only amount coupons and capped release coupons are sold, at face value; "
        "the operator allocates the others"
    )


@dataclass(frozen=True)
class Held:
    """A usable coupon a plate holds."""

    coupon_id: str
    merchant_id: str
    face: Face
    expires_at: datetime
    prepaid: bool = False  # of a batch the merchant bought (its discount is funded by what it paid)


@dataclass(frozen=True)
class Stay:
    """The stay a choice is priced on: its fee, what is still due before any coupon, and the
    engine pricing the same stay up to an earlier instant."""

    fee_fen: int
    due_fen: int
    entered_at: datetime
    until: datetime
    price_to: Callable[[datetime], int]


def stack_discount(face: Face, count: int, stay: Stay) -> int:
    """What `count` identical coupons take off the stay: never more than is due, never below 0."""
    if count < 1 or count > MAX_STACK:
        raise CouponRuleError(f"between 1 and {MAX_STACK} identical coupons stack")
    if face.kind == "amount":
        amount = face.value * count
    elif face.kind == "time":
        shorter = max(stay.entered_at, stay.until - timedelta(minutes=face.value * count))
        amount = stay.fee_fen - stay.price_to(shorter)
    elif face.kind == "percent":
        amount = stay.fee_fen * min(100, face.value * count) // 100
    else:
        amount = stay.fee_fen if face.cap_fen is None else face.cap_fen * count
    return max(0, min(amount, stay.due_fen))


@dataclass(frozen=True)
class Choice:
    coupons: tuple[Held, ...]
    amount_fen: int

    @property
    def face(self) -> Face:
        return self.coupons[0].face

    def shares(self) -> list[tuple[Held, int]]:
        """Each coupon's part of the amount (equal parts, the first ones take the remainder)."""
        n = len(self.coupons)
        base, extra = divmod(self.amount_fen, n)
        return [(c, base + (1 if i < extra else 0)) for i, c in enumerate(self.coupons)]

    def entry(self) -> dict[str, object]:
        """The quote's discount line."""
        return {
            "kind": "coupon",
            "label": self.face.label(len(self.coupons)),
            "coupon_kind": self.face.kind,
            "value": self.face.value,
            "cap_fen": self.face.cap_fen,
            "coupon_ids": [c.coupon_id for c in self.coupons],
            "merchant_ids": sorted({c.merchant_id for c in self.coupons}),
            "amount_fen": self.amount_fen,
        }


def stacks(held: Iterable[Held], now: datetime) -> dict[Face, list[Held]]:
    """The usable coupons by face, the ones expiring first first."""
    out: dict[Face, list[Held]] = {}
    for coupon in sorted(held, key=lambda c: (c.expires_at, c.coupon_id)):
        if coupon.expires_at > now:
            out.setdefault(coupon.face, []).append(coupon)
    return out


def options(held: Iterable[Held], now: datetime) -> list[tuple[Held, ...]]:
    """Every single usable coupon's face and every stack of 1..3 identical ones."""
    return [
        tuple(group[:n])
        for group in stacks(held, now).values()
        for n in range(1, min(MAX_STACK, len(group)) + 1)
    ]


def best(held: Iterable[Held], stay: Stay, now: datetime) -> Choice | None:
    """The option saving most (fewest coupons on a tie, then the first to expire); None when no
    option saves anything."""
    found: Choice | None = None
    for option in options(held, now):
        amount = stack_discount(option[0].face, len(option), stay)
        if amount <= 0:
            continue
        if (
            found is None
            or amount > found.amount_fen
            or (amount == found.amount_fen and len(option) < len(found.coupons))
        ):
            found = Choice(option, amount)
    return found


def named(held: Sequence[Held], wanted: Sequence[str], stay: Stay, now: datetime) -> Choice | None:
    """The coupons the driver names: identical, usable, at most 3 (CouponRuleError otherwise)."""
    by_id = {c.coupon_id: c for c in held if c.expires_at > now}
    if len(set(wanted)) != len(wanted):
        raise CouponRuleError("a coupon is named twice")
    missing = [w for w in wanted if w not in by_id]
    if missing:
        raise CouponRuleError(f"coupon {missing[0]} is not usable for this car")
    chosen = tuple(by_id[w] for w in wanted)
    if len({c.face for c in chosen}) != 1:
        raise CouponRuleError("different coupons do not stack; name identical ones only")
    if len(chosen) > MAX_STACK:
        raise CouponRuleError(f"at most {MAX_STACK} identical coupons stack")
    amount = stack_discount(chosen[0].face, len(chosen), stay)
    return Choice(chosen, amount) if amount > 0 else None


# --- supply: limits, budgets, expiry -----------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    total: int | None = None  # coupons a batch issues at most
    per_person: int | None = None
    per_day: int | None = None
    per_person_per_day: int | None = None


def limit_keys(batch_id: str, limits: Limits, person: str, day: date) -> list[tuple[str, int]]:
    """The counters one more coupon of a batch adds to, each with its limit."""
    out: list[tuple[str, int]] = []
    if limits.per_person is not None:
        out.append((f"{batch_id}#person#{person}", limits.per_person))
    if limits.per_day is not None:
        out.append((f"{batch_id}#day#{day.isoformat()}", limits.per_day))
    if limits.per_person_per_day is not None:
        out.append((f"{batch_id}#person-day#{person}#{day.isoformat()}", limits.per_person_per_day))
    return out


def period_key(period: str, day: date) -> str:
    """The budget period a local date falls in: day, ISO week or month."""
    if period == "day":
        return day.isoformat()
    if period == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{day.year}-{day.month:02d}"
    raise CouponRuleError(f"period must be one of {', '.join(PERIODS)}")


def release_hold(cap_fen: int | None, due_fen: int) -> int:
    """What a release coupon drawn from a budget reserves: its cap, or the car's fee due now when
    it has none (the coupon then covers up to that amount, so the budget is never overspent)."""
    return cap_fen if cap_fen is not None else due_fen


def expiry(given_at: datetime, hours: int) -> datetime:
    return given_at + timedelta(hours=hours)
