"""The parking tariff used by the visit flow: free minutes, then each started unit at a price,
capped per rolling 24 h cycle from entry. Pure: times in, fen out.

A stay no longer than the free minutes is free; a longer stay is charged from its start
(domain.md §2.2). A stay over several cycles pays each cycle, each capped on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain.timeutil import iso as _iso

CYCLE = timedelta(hours=24)


class TariffError(ValueError):
    """A tariff definition that cannot be priced."""


@dataclass(frozen=True)
class FeeLine:
    kind: str  # "free" | "cycle"
    label: str
    amount_fen: int
    minutes: int = 0
    units: int = 0
    unit_minutes: int = 0
    unit_price_fen: int = 0
    capped: bool = False
    cycle_start: datetime | None = None
    cycle_end: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "label": self.label, "amount_fen": self.amount_fen}
        if self.kind == "free":
            out["minutes"] = self.minutes
        else:
            out.update(
                minutes=self.minutes,
                units=self.units,
                unit_minutes=self.unit_minutes,
                unit_price_fen=self.unit_price_fen,
                capped=self.capped,
            )
            if self.cycle_start is not None and self.cycle_end is not None:
                out["cycle_start"] = _iso(self.cycle_start)
                out["cycle_end"] = _iso(self.cycle_end)
        return out


@dataclass(frozen=True)
class Fee:
    total_fen: int
    lines: tuple[FeeLine, ...] = field(default_factory=tuple)

    def breakdown(self) -> list[dict[str, Any]]:
        return [line.to_dict() for line in self.lines]


@dataclass(frozen=True)
class HourlyTariff:
    free_minutes: int
    unit_minutes: int
    unit_price_fen: int
    cap_per_cycle_fen: int | None = None
    version: str = "1"

    def __post_init__(self) -> None:
        if self.free_minutes < 0:
            raise TariffError("free_minutes must not be negative")
        if self.unit_minutes <= 0:
            raise TariffError("unit_minutes must be positive")
        if self.unit_price_fen < 0:
            raise TariffError("unit_price_fen must not be negative")
        if self.cap_per_cycle_fen is not None and self.cap_per_cycle_fen < 0:
            raise TariffError("cap_per_cycle_fen must not be negative")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HourlyTariff:
        try:
            cap = data.get("cap_per_cycle_fen")
            return cls(
                free_minutes=int(data["free_minutes"]),
                unit_minutes=int(data["unit_minutes"]),
                unit_price_fen=int(data["unit_price_fen"]),
                cap_per_cycle_fen=None if cap is None else int(cap),
                version=str(data.get("version", "1")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TariffError(f"invalid hourly tariff: {exc}") from exc

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": "hourly",
            "free_minutes": self.free_minutes,
            "unit_minutes": self.unit_minutes,
            "unit_price_fen": self.unit_price_fen,
            "cap_per_cycle_fen": self.cap_per_cycle_fen,
            "version": self.version,
        }

    def price(self, entered_at: datetime, until: datetime) -> Fee:
        """The fee for a stay from `entered_at` to `until` (aware datetimes)."""
        if entered_at.tzinfo is None or until.tzinfo is None:
            raise TariffError("times must be timezone-aware")
        seconds = max(0, int((until - entered_at).total_seconds()))
        if seconds <= self.free_minutes * 60:
            minutes = -(-seconds // 60)
            return Fee(0, (FeeLine("free", f"免费时长内 ({self.free_minutes} 分钟)", 0, minutes=minutes),))
        lines: list[FeeLine] = []
        total = 0
        cycle_seconds = int(CYCLE.total_seconds())
        full_cycles, rest = divmod(seconds, cycle_seconds)
        # Every full cycle costs the same: price it once, repeat the line (never loop per minute).
        spans = [(i * cycle_seconds, cycle_seconds) for i in range(full_cycles)]
        if rest:
            spans.append((full_cycles * cycle_seconds, rest))
        for index, (offset, span) in enumerate(spans, start=1):
            units = -(-span // (self.unit_minutes * 60))
            amount = units * self.unit_price_fen
            capped = self.cap_per_cycle_fen is not None and amount > self.cap_per_cycle_fen
            if capped:
                assert self.cap_per_cycle_fen is not None
                amount = self.cap_per_cycle_fen
            start = entered_at + timedelta(seconds=offset)
            lines.append(
                FeeLine(
                    "cycle",
                    f"第{index}个计费周期: {units} × {self.unit_minutes} 分钟"
                    + (" (已封顶)" if capped else ""),
                    amount,
                    minutes=-(-span // 60),
                    units=units,
                    unit_minutes=self.unit_minutes,
                    unit_price_fen=self.unit_price_fen,
                    capped=capped,
                    cycle_start=start,
                    cycle_end=start + timedelta(seconds=span),
                )
            )
            total += amount
        return Fee(total, tuple(lines))
