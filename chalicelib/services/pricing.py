"""Pricing a visit: the tariff versions it entered under, the lot's zone and holidays, and in
no_repeat mode what the plate's earlier visits already owe in the open cycle."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chalicelib.domain import gate, tariffs
from chalicelib.domain.gate import ExitDecision
from chalicelib.domain.tariffs import Calendar, Carry, Price
from chalicelib.models.visits import EXITED, Visit, lot_plate_key
from chalicelib.services import config
from chalicelib.services.config import LotConfig, TariffRef


def ref_at_entry(lot: LotConfig, vehicle_class: str) -> TariffRef | None:
    return lot.ref_for(vehicle_class)


def carry(earlier: Iterable[Visit]) -> Carry | None:
    """The open cycle of the newest earlier visit and what every earlier visit owes in it."""
    closed = [v for v in earlier if v.status == EXITED and v.last_cycle_start is not None]
    if not closed:
        return None
    newest = max(closed, key=lambda v: v.visit_id)
    start = newest.last_cycle_start
    assert start is not None
    owed = sum(int(v.last_cycle_fen or 0) for v in closed if v.last_cycle_start == start)
    return Carry(start, owed)


def price_visit(visit: Visit, lot: LotConfig, until: datetime, earlier: Iterable[Visit] = ()) -> Price:
    ref = TariffRef.from_dict(visit.tariff_ref) if visit.tariff_ref else lot.ref_for(visit.vehicle_class)
    if ref is None:
        return tariffs.price(tariffs.Tariff(kind="free"), visit.entered_at, until, lot.zone)
    tariff = config.tariff(ref.tariff_id, ref.version)
    holiday = (
        config.tariff(ref.holiday_tariff_id, ref.holiday_version)
        if ref.holiday_tariff_id and ref.holiday_version is not None
        else None
    )
    calendar = Calendar.of(lot.holidays, holiday) if holiday is not None else tariffs.NO_HOLIDAYS
    carried = carry(earlier) if tariff.repeat == "no_repeat" else None
    return tariffs.price(tariff, visit.entered_at, until, lot.zone, calendar, carried)


@dataclass(frozen=True)
class ExitPricing:
    decision: ExitDecision
    until: datetime
    discounts: list[dict[str, Any]]

    @property
    def discount_fen(self) -> int:
        return sum(int(d["amount_fen"]) for d in self.discounts)


def waiver_discounts(
    visit: Visit, lot: LotConfig, fee: Price, until: datetime, earlier: Iterable[Visit]
) -> list[dict[str, Any]]:
    """Charging waives parking: minutes off the stay, or an amount off the fee (never below 0)."""
    grant = visit.charging_waiver
    if not grant:
        return []
    amount = 0
    label = "充电减免"
    minutes = int(grant.get("minutes", 0))
    if minutes:
        shorter = max(visit.entered_at, until - timedelta(minutes=minutes))
        amount += fee.total_fen - price_visit(visit, lot, shorter, earlier).total_fen
        label += f" {minutes} 分钟"
    fen = int(grant.get("fen", 0))
    if fen:
        amount += fen
        label += f" {fen} 分"
    amount = max(0, min(amount, fee.total_fen))
    return [
        {
            "kind": "charging_waiver",
            "label": label,
            "session_id": grant.get("session_id"),
            "amount_fen": amount,
        }
    ]


def exit_decision(visit: Visit, lot: LotConfig, now: datetime, earlier: Iterable[Visit] = ()) -> ExitPricing:
    """What the exit decides now, the instant the stay was priced to (grace window applied) and
    the discounts that apply."""
    earlier = list(earlier)
    until = gate.fee_until(now, visit.paid_at, visit.priced_until, lot.grace)
    fee = price_visit(visit, lot, until, earlier)
    discounts = waiver_discounts(visit, lot, fee, until, earlier)
    discount = int(visit.discount_fen) + sum(int(d["amount_fen"]) for d in discounts)
    return ExitPricing(gate.decide_exit(visit.plate, fee, int(visit.paid_fen), discount), until, discounts)


def earlier_visits(lot_id: str, plate: str, limit: int = 10) -> list[Visit]:
    """The plate's latest visits at the lot, newest first, strongly consistent (one Query)."""
    return list(
        Visit.query(lot_plate_key(lot_id, plate), scan_index_forward=False, limit=limit, consistent_read=True)
    )
