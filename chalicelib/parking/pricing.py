"""Pricing a visit: the tariff versions it entered under, the lot's zone and holidays, in
no_repeat mode what the plate's earlier visits already owe in the open cycle, and the charging
waiver. The rules are the domain's (domain.gate, domain.tariffs); this module loads what they
need."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.coupons import ports as coupons
from chalicelib.parking import config, shared_spaces
from chalicelib.parking.config import LotConfig, TariffRef
from chalicelib.parking.domain import gate, tariffs
from chalicelib.parking.domain.gate import ExitDecision, WaiverGrant
from chalicelib.parking.domain.tariffs import Calendar, Carry, Price
from chalicelib.parking.identity_models import IDENTITY_KEY
from chalicelib.parking.models import EXITED, Visit, lot_plate_key


def ref_at_entry(lot: LotConfig, vehicle_class: str) -> TariffRef | None:
    return lot.ref_for(vehicle_class)


def carry_from(earlier: Iterable[Visit]) -> Carry | None:
    """No-repeat carry in constant work: the newest earlier exited visit keeps the cycle's running
    total (`cycle_total_fen`), so only that one item is read however many visits the cycle has."""
    for v in sorted(earlier, key=lambda v: v.visit_id, reverse=True):
        if v.status == EXITED and v.last_cycle_start is not None:
            return gate.carry_of(
                v.last_cycle_start,
                int(v.cycle_total_fen) if v.cycle_total_fen is not None else None,
                int(v.last_cycle_fen or 0),
            )
    return None


def tariff_of(visit: Visit, lot: LotConfig) -> tariffs.Tariff | None:
    ref = TariffRef.from_dict(visit.tariff_ref) if visit.tariff_ref else lot.ref_for(visit.vehicle_class)
    return config.tariff(ref.tariff_id, ref.version) if ref is not None else None


def price_visit(visit: Visit, lot: LotConfig, until: datetime, earlier: Iterable[Visit] = ()) -> Price:
    """The stay's fee to `until`; a shared space's guest pays the parts before and after its window."""
    earlier = list(earlier)
    shared = shared_spaces.price(visit, until, lambda t: _plain_price(visit, lot, t, earlier))
    return shared if shared is not None else _plain_price(visit, lot, until, earlier)


def _plain_price(visit: Visit, lot: LotConfig, until: datetime, earlier: Iterable[Visit] = ()) -> Price:
    ref = TariffRef.from_dict(visit.tariff_ref) if visit.tariff_ref else lot.ref_for(visit.vehicle_class)
    if ref is None or (visit.identity or {}).get("free"):
        return tariffs.price(tariffs.Tariff(kind="free"), visit.entered_at, until, lot.zone)
    tariff = config.tariff(ref.tariff_id, ref.version)
    holiday = (
        config.tariff(ref.holiday_tariff_id, ref.holiday_version)
        if ref.holiday_tariff_id and ref.holiday_version is not None
        else None
    )
    calendar = Calendar.of(lot.holidays, holiday) if holiday is not None else tariffs.NO_HOLIDAYS
    carried = carry_from(earlier) if tariff.repeat == "no_repeat" else None
    return tariffs.price(tariff, visit.entered_at, until, lot.zone, calendar, carried)


@dataclass(frozen=True)
class ExitPricing:
    decision: ExitDecision
    until: datetime
    discounts: list[dict[str, Any]]

    @property
    def discount_fen(self) -> int:
        return sum(int(d["amount_fen"]) for d in self.discounts)

    @property
    def coupon(self) -> dict[str, Any] | None:
        """The merchant coupons this pricing takes (one discount line: a coupon or a stack)."""
        return next((d for d in self.discounts if d.get("kind") == "coupon"), None)


def _grant(visit: Visit) -> WaiverGrant | None:
    grant = visit.charging_waiver
    if not grant:
        return None
    return WaiverGrant(grant.get("session_id"), int(grant.get("minutes", 0)), int(grant.get("fen", 0)))


def exit_decision(
    visit: Visit,
    lot: LotConfig,
    now: datetime,
    earlier: Iterable[Visit] = (),
    with_coupons: bool = False,
    wanted: Sequence[str] | None = None,
) -> ExitPricing:
    """What the exit decides now, the instant the stay was priced to (grace window applied) and
    the discounts that apply; `with_coupons`: the merchant coupons given during this stay too
    (the named ones, else the best choice; a quote and the exit take them, docs/coupons.md; a stay
    without any costs no read)."""
    until = gate.fee_until(now, visit.paid_at, visit.priced_until, lot.grace)
    held: list[coupons.Held] | None = None
    if with_coupons and (wanted or visit.coupons_given):
        held = (
            coupons.by_ids(wanted, visit.lot_plate, now) if wanted else coupons.usable(visit.lot_plate, now)
        )
    return decision_at(visit, lot, until, earlier, held, wanted, now)


def use_coupons(
    tx: TransactWrite,
    visit: Visit,
    lot: LotConfig,
    coupon: dict[str, Any] | None,
    used_by: str,
    now: datetime,
) -> None:
    """The coupons a pricing took, used once in the caller's transaction (the payment's or the
    exit's), with their journal postings."""
    if coupon is None:
        return
    coupons.use(
        tx,
        coupon,
        lot_plate=visit.lot_plate,
        lot_id=visit.lot_id,
        operator_id=lot.operator_id,
        zone=lot.timezone,
        visit_id=visit.visit_id,
        used_by=used_by,
        now=now,
    )


def decision_at(
    visit: Visit,
    lot: LotConfig,
    until: datetime,
    earlier: Iterable[Visit] = (),
    held: Sequence[coupons.Held] | None = None,
    wanted: Sequence[str] | None = None,
    now: datetime | None = None,
) -> ExitPricing:
    """The stay priced to `until`: fee, discounts and what is due. With `held` coupons: the named
    ones (`wanted`) or the best choice among them is priced in as one more discount line."""
    earlier = list(earlier)
    fee = price_visit(visit, lot, until, earlier)
    waiver = gate.waiver_discount(
        _grant(visit),
        fee.total_fen,
        visit.entered_at,
        until,
        lambda instant: price_visit(visit, lot, instant, earlier).total_fen,
    )
    discounts = [waiver] if waiver is not None else []
    discount = int(visit.discount_fen) + sum(int(d["amount_fen"]) for d in discounts)
    if held:
        entry = coupons.choose(
            held,
            fee_fen=fee.total_fen,
            due_fen=max(0, fee.total_fen - int(visit.paid_fen) - discount),
            entered_at=visit.entered_at,
            until=until,
            price_to=lambda instant: price_visit(visit, lot, instant, earlier).total_fen,
            now=now or until,
            wanted=wanted,
        )
        if entry is not None:
            discounts.append(entry)
            discount += int(entry["amount_fen"])
    arrears, prepaid = int(visit.arrears_fen or 0), int(visit.prepaid_fen or 0)
    return ExitPricing(
        gate.decide_exit(visit.plate, fee, int(visit.paid_fen), discount, arrears, prepaid), until, discounts
    )


def cycle_total(visit: Visit, lot: LotConfig, fee: Price, earlier: Iterable[Visit]) -> int | None:
    """What the plate owes in the cycle this stay ended in, this stay included (kept on the visit
    when it closes, for the next visit's carry)."""
    tariff = tariff_of(visit, lot)
    if tariff is None or tariff.repeat != "no_repeat":
        return None
    return gate.cycle_total(carry_from(earlier), fee.last_cycle)


def earlier_visits(lot_id: str, plate: str, limit: int = 3) -> list[Visit]:
    """The plate's latest visits at the lot, newest first, strongly consistent (one Query of at
    most three items, however many visits the cycle has): the current one and the two before, the
    newest closed one carrying the no-repeat cycle's running total (a visit abandoned in between
    by a re-entry does not break the chain)."""
    return list(
        Visit.query(
            lot_plate_key(lot_id, plate),
            Visit.visit_id < IDENTITY_KEY,  # not the plate's identity item (docs/identities.md)
            scan_index_forward=False,
            limit=limit,
            consistent_read=True,
        )
    )
