"""Pricing a visit: the tariff versions it entered under, the lot's zone and holidays, and in
no_repeat mode what the plate's earlier visits already owe in the open cycle."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

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


def exit_decision(
    visit: Visit, lot: LotConfig, now: datetime, earlier: Iterable[Visit] = ()
) -> tuple[ExitDecision, datetime]:
    """What the exit decides now, and the instant the stay was priced to (grace window applied)."""
    until = gate.fee_until(now, visit.paid_at, visit.priced_until, lot.grace)
    fee = price_visit(visit, lot, until, earlier)
    return gate.decide_exit(visit.plate, fee, int(visit.paid_fen), int(visit.discount_fen)), until


def earlier_visits(lot_id: str, plate: str, limit: int = 10) -> list[Visit]:
    """The plate's latest visits at the lot, newest first, strongly consistent (one Query)."""
    return list(
        Visit.query(lot_plate_key(lot_id, plate), scan_index_forward=False, limit=limit, consistent_read=True)
    )
