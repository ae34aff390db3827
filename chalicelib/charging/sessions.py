"""Charge sessions end to end: a driver starts by QR id, the charger is started, metered and
stopped over OCPP, the bill is settled and the unused prepaid amount goes back to the wallet.

Every state change is conditional (session version or state, connector's session, wallet
balance) so repeated or late messages from chargers and repeated stops change nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError, UpdateError

from chalicelib.charging import ocpp_calls, pricing
from chalicelib.charging.contract import StartIn
from chalicelib.charging.domain import sessions as rules
from chalicelib.charging.models import (
    Charger,
    ChargingSession,
    ChargingTariffVersion,
    Connector,
    QrCode,
    Station,
)
from chalicelib.parking import ports as parking
from chalicelib.payments import ports as wallet
from chalicelib.shared.db import get_or_none, get_owned, transaction
from chalicelib.shared.errors import Conflict, DomainError, Forbidden, NotFound, Unprocessable
from chalicelib.shared.ids import compact_id
from chalicelib.shared.timeutil import iso, parse_iso

OPEN = "open"
DEFAULT_ZONE = "Asia/Shanghai"


def new_session_id(now: datetime) -> str:
    """Also the OCPP idTag the charger echoes back (at most 20 characters)."""
    return compact_id("s", now)


def readings_of(session: ChargingSession) -> list[tuple[datetime, int]]:
    return [(parse_iso(t), int(wh)) for t, wh in session.readings or []]


def _dump(readings: list[tuple[datetime, int]]) -> list[list[Any]]:
    return [[iso(t), wh] for t, wh in readings]


def zone_of(session: ChargingSession) -> ZoneInfo:
    """The station's zone, kept on the session at start (older sessions: read the station)."""
    if session.timezone:
        return ZoneInfo(session.timezone)
    station = get_or_none(Station, session.station_id)
    return ZoneInfo(station.timezone if station is not None else DEFAULT_ZONE)


# ---------------------------------------------------------------------------------------------
# Driver: start, status, stop


def tariff_in_force(station: Station, now: datetime) -> ChargingTariffVersion:
    if not station.tariff_id:
        raise Conflict("this station has no tariff yet", "no_tariff")
    for version in ChargingTariffVersion.query(station.tariff_id, scan_index_forward=False, limit=10):
        if version.effective_from <= now:
            return version
    raise Conflict("this station's tariff is not in force yet", "no_tariff")


def start(user_id: str, order: StartIn, now: datetime) -> ChargingSession:
    qr_id, prepay, plate = order.qr_id, order.prepay_fen, order.plate
    own_plate = None
    if plate:
        own_plate = parking.clean_plate(plate)
        parking.require_plate_owner(user_id, own_plate)  # the waiver goes to the driver's own car
    try:
        qr = QrCode.get(qr_id)
        charger = Charger.get(qr.charger_id)
        connector = Connector.get(qr.charger_id, int(qr.connector_id))
        station = Station.get(charger.station_id)
    except (QrCode.DoesNotExist, Charger.DoesNotExist, Connector.DoesNotExist, Station.DoesNotExist) as exc:
        raise NotFound("no charger answers to this QR code", "qr_not_found") from exc
    account = wallet.view(user_id)
    prepay_fen = int(prepay) if prepay is not None else account.balance_fen
    refusal = rules.check_start(
        charger_online=ocpp_calls.is_online(charger.charger_id, now),
        connector_status=connector.status,
        connector_session=connector.session_id,
        account_status=account.status,
        balance_fen=account.balance_fen,
        prepay_fen=prepay_fen,
        min_balance_fen=int(station.min_balance_fen),
    )
    if refusal is not None:
        error: DomainError = (
            Forbidden(refusal.message, refusal.code)
            if refusal.code == "account_frozen"
            else Conflict(refusal.message, refusal.code)
        )
        raise error
    version = tariff_in_force(station, now)
    session = ChargingSession(
        new_session_id(now),
        user_id=user_id,
        operator_id=charger.operator_id,
        station_id=station.station_id,
        charger_id=charger.charger_id,
        connector_id=int(connector.connector_id),
        plate=own_plate,
        state=rules.STARTING,
        open_shard=OPEN,
        tariff_ref={"tariff_id": version.tariff_id, "version": int(version.version), "kind": version.kind},
        tariff=version.definition,
        timezone=station.timezone,
        prepaid_fen=prepay_fen,
        min_balance_fen=int(station.min_balance_fen),
        created_at=now,
        last_activity_at=now,
    )
    try:
        with transaction() as tx:
            wallet.debit(tx, user_id, prepay_fen, now)
            tx.save(session, condition=ChargingSession.session_id.does_not_exist())
            tx.update(
                connector,
                actions=[Connector.session_id.set(session.session_id)],
                condition=Connector.session_id.does_not_exist() & (Connector.status == "Preparing"),
            )
    except TransactWriteError as exc:
        raise Conflict("the connector or the wallet changed meanwhile; try again", "start_conflict") from exc
    ocpp_calls.send(
        charger.charger_id,
        "RemoteStartTransaction",
        {"connectorId": int(connector.connector_id), "idTag": session.session_id},
        now,
        session_id=session.session_id,
    )
    return session


def _missing() -> NotFound:
    return NotFound("no such charging session", "session_not_found")


def get_own(user_id: str, session_id: str) -> ChargingSession:
    return get_owned(
        ChargingSession, session_id, owner=("user_id", user_id), missing=_missing(), consistent=True
    )


def history(user_id: str) -> list[ChargingSession]:
    return list(ChargingSession.by_user.query(user_id, scan_index_forward=False, limit=50))


def request_stop(session: ChargingSession, now: datetime, reason: str) -> ChargingSession:
    """Stop is idempotent: only a live session moves to `stopping` and gets one stop command; a
    second or third stop, or a stop after the car finished by itself, changes nothing."""
    for _ in range(3):
        if session.state not in rules.LIVE:
            return session
        previous = session.state
        try:
            session.update(
                actions=[
                    ChargingSession.state.set(rules.STOPPING),
                    ChargingSession.stop_requested_at.set(now),
                    ChargingSession.end_reason.set(reason),
                ],
                condition=ChargingSession.state == previous,
            )
        except UpdateError:
            session.refresh(consistent_read=True)
            continue
        if previous != rules.STARTING and session.transaction_id is not None:
            _remote_stop(session, now)
        return session
    return session


def _remote_stop(session: ChargingSession, now: datetime) -> None:
    if not ocpp_calls.is_online(session.charger_id, now):
        return  # the session completes from the final reading when the charger is back
    ocpp_calls.send(
        session.charger_id,
        "RemoteStopTransaction",
        {"transactionId": int(session.transaction_id or 0)},
        now,
        session_id=session.session_id,
    )


def stop(user_id: str, session_id: str, now: datetime) -> ChargingSession:
    return request_stop(get_own(user_id, session_id), now, "driver")


# ---------------------------------------------------------------------------------------------
# Charger: OCPP requests (called by the OCPP handler after validation and de-duplication)


def find_by_transaction(charger_id: str, transaction_id: int) -> ChargingSession | None:
    for connector in Connector.query(charger_id, consistent_read=True):
        if connector.session_id:
            try:
                session = ChargingSession.get(connector.session_id, consistent_read=True)
            except ChargingSession.DoesNotExist:
                continue
            if session.transaction_id == transaction_id:
                return session
    for session in ChargingSession.by_transaction.query(
        charger_id, ChargingSession.transaction_id == transaction_id
    ):
        return session
    return None


def on_start_transaction(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    id_tag = str(payload["idTag"])
    try:
        session = ChargingSession.get(id_tag, consistent_read=True)
    except ChargingSession.DoesNotExist:
        return {"idTagInfo": {"status": "Invalid"}, "transactionId": 0}
    if session.charger_id != charger.charger_id or session.connector_id != int(payload["connectorId"]):
        return {"idTagInfo": {"status": "Invalid"}, "transactionId": 0}
    if session.transaction_id is not None:
        # a resent StartTransaction: the same transaction id, nothing else changes
        return {"idTagInfo": {"status": "Accepted"}, "transactionId": int(session.transaction_id)}
    if session.state not in (rules.STARTING, rules.STOPPING):
        return {"idTagInfo": {"status": "Blocked"}, "transactionId": 0}
    counter = Charger(charger.charger_id)
    counter.update(actions=[Charger.transaction_counter.add(1)])
    transaction_id = int(counter.transaction_counter)
    try:
        device_time: datetime | None = parse_iso(str(payload.get("timestamp")))
    except ValueError:
        device_time = None
    started = now
    meter_start = int(payload["meterStart"])
    readings = [(started, meter_start)]
    stop_first = session.state == rules.STOPPING
    try:
        session.update(
            actions=[
                ChargingSession.transaction_id.set(transaction_id),
                ChargingSession.state.set(rules.STOPPING if stop_first else rules.CHARGING),
                ChargingSession.meter_start_wh.set(meter_start),
                ChargingSession.readings.set(_dump(readings)),
                ChargingSession.started_at.set(started),
                ChargingSession.last_activity_at.set(now),
                *(
                    [ChargingSession.abnormal_reason.set("charger clock differs by more than 5 minutes")]
                    if isinstance(device_time, datetime) and not rules.clock_ok(device_time, now)
                    else []
                ),
            ],
            condition=ChargingSession.transaction_id.does_not_exist(),
        )
    except UpdateError:
        session.refresh(consistent_read=True)
        return {"idTagInfo": {"status": "Accepted"}, "transactionId": int(session.transaction_id or 0)}
    if stop_first:
        ocpp_calls.send(
            charger.charger_id,
            "RemoteStopTransaction",
            {"transactionId": transaction_id},
            now,
            session_id=session.session_id,
        )
    return {"idTagInfo": {"status": "Accepted"}, "transactionId": transaction_id}


def _with_readings(
    session: ChargingSession, new: list[tuple[datetime, int, int | None]]
) -> tuple[list[tuple[datetime, int]], int]:
    readings = readings_of(session)
    power = int(session.max_power_w or 0)
    for at, wh, watts in new:
        readings = rules.merge_reading(readings, rules.after_start(session.started_at, at), wh)
        if watts is not None:
            power = max(power, watts)
    return readings, power


def on_meter_values(
    charger: Charger,
    transaction_id: int | None,
    samples: list[tuple[datetime, int, int | None]],
    now: datetime,
) -> None:
    if transaction_id is None or not samples:
        return
    for _ in range(4):
        session = find_by_transaction(charger.charger_id, transaction_id)
        if session is None or session.state in (rules.COMPLETED, rules.ABNORMAL):
            return  # a late reading after the bill: it cannot change a settled session
        readings, power = _with_readings(session, samples)
        cost = pricing.cost_so_far(session, readings, zone_of(session))
        state = rules.CHARGING if session.state == rules.SUSPENDED else session.state
        try:
            session.update(
                actions=[
                    ChargingSession.readings.set(_dump(readings)),
                    ChargingSession.energy_wh.set(rules.energy(readings)),
                    ChargingSession.max_power_w.set(power),
                    ChargingSession.cost_fen.set(cost),
                    ChargingSession.state.set(state),
                    ChargingSession.last_activity_at.set(now),
                ]
            )
        except UpdateError:
            continue  # another reading won the race (version); merge again
        break
    else:
        return
    if session.state == rules.CHARGING:
        expected = pricing.expected_at_next_reading(session, readings, now, zone_of(session))
        if pricing.past_auto_stop(session, now):
            request_stop(session, now, "auto_stop")
        elif rules.balance_runs_out(int(session.prepaid_fen), expected, int(session.min_balance_fen)):
            request_stop(session, now, "balance")
        elif session.started_at is not None and rules.no_energy_yet(
            session.started_at, now, rules.energy(readings)
        ):
            request_stop(session, now, "no_energy")


def on_stop_transaction(
    charger: Charger,
    transaction_id: int,
    stopped_at: datetime,
    meter_stop: int,
    samples: list[tuple[datetime, int, int | None]],
    reason: str,
    now: datetime,
) -> bool:
    """Complete the session from the charger's final reading. False when the stop is refused
    (before the start: a clock error the charger must correct)."""
    session = find_by_transaction(charger.charger_id, transaction_id)
    if session is None or session.state == rules.COMPLETED:
        return True  # unknown or already settled: accept, change nothing
    if session.started_at is not None and stopped_at < session.started_at - rules.CLOCK_SKEW:
        return False
    final_at = min(max(stopped_at, session.started_at or stopped_at), now + rules.CLOCK_SKEW)
    complete(session, [*samples, (final_at, meter_stop, None)], now, reason or "charger")
    return True


def complete(
    session: ChargingSession, samples: list[tuple[datetime, int, int | None]], now: datetime, reason: str
) -> ChargingSession:
    """Settle: bill from the readings, unused prepaid back to the wallet, connector freed; once."""
    for _ in range(4):
        if session.state == rules.COMPLETED:
            return session
        readings, power = _with_readings(session, samples)
        bill = pricing.bill(session, readings, zone_of(session))
        settlement = rules.settle(int(session.prepaid_fen), int(bill["total_fen"]))
        connector = Connector(session.charger_id, int(session.connector_id))
        try:
            holds = Connector.get(session.charger_id, int(session.connector_id), consistent_read=True)
            release = holds.session_id == session.session_id
        except Connector.DoesNotExist:
            release = False
        try:
            with transaction() as tx:
                tx.update(
                    session,
                    actions=[
                        ChargingSession.state.set(rules.COMPLETED),
                        ChargingSession.open_shard.remove(),
                        ChargingSession.readings.set(_dump(readings)),
                        ChargingSession.energy_wh.set(rules.energy(readings)),
                        ChargingSession.max_power_w.set(power),
                        ChargingSession.cost_fen.set(settlement.total_fen),
                        ChargingSession.bill.set(
                            {
                                **bill,
                                "prepaid_fen": int(session.prepaid_fen),
                                "refund_fen": settlement.refund_fen,
                                "owed_fen": settlement.owed_fen,
                            }
                        ),
                        ChargingSession.refunded_fen.set(settlement.refund_fen),
                        ChargingSession.ended_at.set(now),
                        ChargingSession.end_reason.set(session.end_reason or reason),
                        ChargingSession.last_activity_at.set(now),
                    ],
                    condition=ChargingSession.state != rules.COMPLETED,
                )
                wallet.credit(tx, session.user_id, settlement.refund_fen - settlement.owed_fen, now)
                if release:
                    tx.update(
                        connector,
                        actions=[Connector.session_id.remove()],
                        condition=Connector.session_id == session.session_id,
                    )
        except TransactWriteError:
            session.refresh(consistent_read=True)
            continue
        session.refresh(consistent_read=True)
        _waive_parking(session, now)
        return session
    return session


def on_remote_start_answer(session_id: str | None, accepted: bool, now: datetime) -> None:
    if accepted or not session_id:
        return
    try:
        session = ChargingSession.get(session_id, consistent_read=True)
    except ChargingSession.DoesNotExist:
        return
    abandon(session, "the charger refused to start", now)


def _waive_parking(session: ChargingSession, now: datetime) -> bool:
    """Charging waives parking: the station's reduction for the plate's visit in its lot, through
    parking's port (charging never reads parking's tables)."""
    station = get_or_none(Station, session.station_id)
    waiver = station.parking_waiver if station is not None else None
    if not rules.waiver_applies(session.plate, int(session.energy_wh), waiver) or not session.plate:
        return False
    assert waiver is not None and station is not None
    if parking.lot_operator(str(waiver["lot_id"])) != station.operator_id:
        return False  # checked when the station was written; held again where the money moves
    return parking.grant_charging_waiver(
        str(waiver["lot_id"]),
        session.plate,
        session.session_id,
        station.station_id,
        int(waiver.get("minutes", 0)),
        int(waiver.get("fen", 0)),
        now,
    )


def abandon(session: ChargingSession, reason: str, now: datetime) -> None:
    """A start that failed: the session is abnormal, the whole prepaid amount goes back."""
    if session.state != rules.STARTING:
        return
    try:
        with transaction() as tx:
            tx.update(
                session,
                actions=[
                    ChargingSession.state.set(rules.ABNORMAL),
                    ChargingSession.abnormal_reason.set(reason),
                    ChargingSession.refunded_fen.set(int(session.prepaid_fen)),
                    ChargingSession.ended_at.set(now),
                    ChargingSession.last_activity_at.set(now),
                ],
                condition=ChargingSession.state == rules.STARTING,
            )
            wallet.credit(tx, session.user_id, int(session.prepaid_fen), now)
            tx.update(
                Connector(session.charger_id, int(session.connector_id)),
                actions=[Connector.session_id.remove()],
                condition=Connector.session_id == session.session_id,
            )
    except TransactWriteError:
        return


# ---------------------------------------------------------------------------------------------
# Staff and the sweeper


def force_end(operator_id: str, session_id: str, now: datetime) -> ChargingSession:
    session = get_owned(
        ChargingSession, session_id, owner=("operator_id", operator_id), missing=_missing(), consistent=True
    )
    if session.state not in rules.FORCE_ENDABLE:
        raise Conflict(f"a {session.state} session cannot be force-ended", "not_open")
    live = session.state in rules.LIVE and session.transaction_id is not None
    if session.state == rules.STARTING and session.transaction_id is None:
        abandon(session, "ended by staff before the charger started", now)
        session.refresh(consistent_read=True)
        return session
    session = complete(session, [], now, "force_ended")
    if live:
        _remote_stop(session, now)
    return session


def sweep(now: datetime) -> dict[str, int]:
    """Every minute, the domain's sweep rule for each quiet open session: starts that never began
    become abnormal (prepaid returned); chargers silent during charging suspend their sessions;
    cars that take no energy and e-bikes past their time limit are stopped; sessions suspended for
    a day become abnormal bills for staff."""
    counts = {"abandoned": 0, "suspended": 0, "no_energy": 0, "auto_stop": 0, "abnormal": 0}
    cutoff = now - rules.NO_ENERGY_WINDOW
    for session in ChargingSession.open_sessions.query(OPEN, ChargingSession.last_activity_at < cutoff):
        action = rules.sweep_action(
            session.state,
            created_at=session.created_at,
            last_activity_at=session.last_activity_at,
            started_at=session.started_at,
            energy_wh=int(session.energy_wh),
            past_auto_stop=pricing.past_auto_stop(session, now),
            now=now,
        )
        if action == rules.ABANDON:
            abandon(session, "the charger did not start within 3 minutes", now)
            counts["abandoned"] += 1
        elif action == rules.STOP_NO_ENERGY:
            request_stop(session, now, "no_energy")
            counts["no_energy"] += 1
        elif action == rules.STOP_AUTO:
            request_stop(session, now, "auto_stop")
            counts["auto_stop"] += 1
        elif action in (rules.SUSPEND, rules.MARK_ABNORMAL):
            target = rules.SWEEP_TARGETS[action]
            rules.require_move(session.state, target)
            extra = (
                [ChargingSession.abnormal_reason.set("the charger never sent a final reading")]
                if target == rules.ABNORMAL
                else []
            )
            try:
                session.update(
                    actions=[ChargingSession.state.set(target), *extra],
                    condition=ChargingSession.state == session.state,
                )
            except UpdateError:
                continue
            counts["suspended" if action == rules.SUSPEND else "abnormal"] += 1
    return counts


def abnormal_bills(operator_id: str) -> list[ChargingSession]:
    return [
        s
        for s in ChargingSession.open_sessions.query(OPEN, scan_index_forward=False)
        if s.operator_id == operator_id and s.state in (rules.ABNORMAL, rules.SUSPENDED)
    ]


# ---------------------------------------------------------------------------------------------
# Refund requests


@dataclass(frozen=True)
class RefundCheck:
    refundable_fen: int


def check_refund(user_id: str, session_id: str, amount: int) -> RefundCheck:
    session = get_own(user_id, session_id)
    total = int((session.bill or {}).get("total_fen", 0))
    allowed = rules.refundable(session.state, total, int(session.prepaid_fen), int(session.refunded_fen))
    if allowed == 0:
        raise Conflict("only a completed session with a total above zero can be refunded", "not_refundable")
    if amount > allowed:
        raise Unprocessable(f"at most {allowed} fen can be refunded for this session", "amount_too_high")
    return RefundCheck(allowed)
