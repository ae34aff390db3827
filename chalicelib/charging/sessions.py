"""Charge sessions end to end: a driver starts by QR id, the charger is started, metered and
stopped over OCPP, the bill is settled and the unused prepaid amount goes back to the wallet.

Every state change is conditional (session version or state, connector's session, wallet
balance) so repeated or late messages from chargers and repeated stops change nothing twice.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

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
from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import ports as wallet
from chalicelib.platform import audit
from chalicelib.shared.db import get_or_none, get_owned, transaction
from chalicelib.shared.errors import Conflict, DomainError, Forbidden, NotFound
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


def clock_offset(session: ChargingSession) -> timedelta:
    """How far the charger's clock was ahead of the server's at the start (a time, not money)."""
    return timedelta(seconds=session.clock_offset_s or 0)


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
            ledger.add(
                tx,
                ledger.prepay_hold(
                    session.session_id,
                    user_id=user_id,
                    station_id=station.station_id,
                    operator_id=charger.operator_id,
                    amount_fen=prepay_fen,
                    at=now,
                ),
                station.timezone,
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
    second or third stop, or a stop after the car finished by itself, changes nothing. A stop
    during `starting` is sent when the charger's StartTransaction arrives (or the start is
    cancelled when the charger rejects it); a stop while the charger is offline is kept and sent
    when it is heard again."""
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


def _remote_stop(session: ChargingSession, now: datetime) -> bool:
    """Send the stop now, or keep it for when the charger is back (True when sent)."""
    if not ocpp_calls.is_online(session.charger_id, now):
        _keep_stop(session)
        return False
    ocpp_calls.send(
        session.charger_id,
        "RemoteStopTransaction",
        {"transactionId": int(session.transaction_id or 0)},
        now,
        session_id=session.session_id,
    )
    kept = bool(session.stop_pending)
    with contextlib.suppress(UpdateError):  # a reading raced us; the stop was sent all the same
        session.update(actions=[ChargingSession.stop_sent_at.set(now), ChargingSession.stop_pending.remove()])
    if kept:
        Charger(session.charger_id).update(actions=[Charger.pending_stops.delete({session.session_id})])
    return True


def _keep_stop(session: ChargingSession) -> None:
    try:
        session.update(actions=[ChargingSession.stop_pending.set(True)])
    except UpdateError:
        session.refresh(consistent_read=True)
        session.update(actions=[ChargingSession.stop_pending.set(True)])
    Charger(session.charger_id).update(actions=[Charger.pending_stops.add({session.session_id})])


def send_pending_stops(charger: Charger, now: datetime) -> int:
    """The charger is heard again: the stops asked while it was offline are sent."""
    sent = 0
    for session_id in sorted(charger.pending_stops or ()):
        session = get_or_none(ChargingSession, session_id, consistent=True)
        if (
            session is not None
            and session.stop_pending
            and session.state not in (rules.COMPLETED, rules.ABNORMAL)
            and session.transaction_id is not None
        ):
            sent += int(_remote_stop(session, now))
        else:  # sent meanwhile, or nothing left to stop
            Charger(charger.charger_id).update(actions=[Charger.pending_stops.delete({session_id})])
    return sent


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
    """A start the charger began. Accepted only with a real transaction id; a session that is no
    longer starting (rejected, cancelled, swept) is answered Blocked, never Accepted with id 0."""
    id_tag = str(payload["idTag"])
    blocked: dict[str, Any] = {"idTagInfo": {"status": "Blocked"}, "transactionId": 0}
    try:
        session = ChargingSession.get(id_tag, consistent_read=True)
    except ChargingSession.DoesNotExist:
        return {"idTagInfo": {"status": "Invalid"}, "transactionId": 0}
    if session.charger_id != charger.charger_id or session.connector_id != int(payload["connectorId"]):
        return {"idTagInfo": {"status": "Invalid"}, "transactionId": 0}
    try:
        device_time: datetime | None = parse_iso(str(payload.get("timestamp")))
    except ValueError:
        device_time = None
    transaction_id: int | None = None
    for _ in range(4):
        if session.transaction_id is not None:
            # a resent StartTransaction: the same transaction id, nothing else changes
            return {"idTagInfo": {"status": "Accepted"}, "transactionId": int(session.transaction_id)}
        if session.state not in (rules.STARTING, rules.STOPPING) or session.released_at is not None:
            return blocked
        if transaction_id is None:
            counter = Charger(charger.charger_id)
            counter.update(actions=[Charger.transaction_counter.add(1)])
            transaction_id = int(counter.transaction_counter)
        meter_start = int(payload["meterStart"])
        stop_first = session.state == rules.STOPPING
        offset = rules.clock_offset(device_time, now)
        skewed = isinstance(device_time, datetime) and not rules.clock_ok(device_time, now)
        try:
            session.update(
                actions=[
                    ChargingSession.transaction_id.set(transaction_id),
                    ChargingSession.state.set(rules.STOPPING if stop_first else rules.CHARGING),
                    ChargingSession.meter_start_wh.set(meter_start),
                    ChargingSession.readings.set(_dump([(now, meter_start)])),
                    ChargingSession.started_at.set(now),
                    ChargingSession.last_activity_at.set(now),
                    ChargingSession.clock_offset_s.set(offset.total_seconds()),
                    *(
                        [ChargingSession.abnormal_reason.set("charger clock differs by more than 5 minutes")]
                        if skewed
                        else []
                    ),
                ],
                condition=ChargingSession.transaction_id.does_not_exist()
                & ChargingSession.state.is_in(rules.STARTING, rules.STOPPING)
                & ChargingSession.released_at.does_not_exist(),
            )
        except UpdateError:
            session.refresh(consistent_read=True)
            continue  # decide again on what the session is now
        if stop_first:
            _remote_stop(session, now)
        return {"idTagInfo": {"status": "Accepted"}, "transactionId": transaction_id}
    return blocked


def _with_readings(
    session: ChargingSession, new: list[tuple[datetime, int, int | None]], now: datetime
) -> tuple[list[tuple[datetime, int]], int, list[str]]:
    """The session's readings with `new` merged in, each placed on the server's clock (corrected
    by the charger's offset, clamped when beyond the tolerance, with the reason kept)."""
    readings = readings_of(session)
    power = int(session.max_power_w or 0)
    offset = clock_offset(session)
    notes: list[str] = []
    for at, wh, watts in new:
        placed = rules.place_reading(at, offset, session.started_at, now)
        if placed.note:
            notes.append(placed.note)
        readings = rules.merge_reading(readings, placed.at, wh)
        if watts is not None:
            power = max(power, watts)
    return readings, power, notes


def _noted(session: ChargingSession, notes: list[str]) -> list[Any]:
    if not notes:
        return []
    kept = [*(session.reading_notes or []), *notes][-20:]
    return [ChargingSession.reading_notes.set(kept)]


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
        readings, power, notes = _with_readings(session, samples, now)
        cost = pricing.cost_so_far(session, readings, zone_of(session))
        state = session.state
        if state == rules.SUSPENDED:  # back: charging again, or still being stopped
            state = rules.STOPPING if session.stop_requested_at is not None else rules.CHARGING
        try:
            session.update(
                actions=[
                    ChargingSession.readings.set(_dump(readings)),
                    ChargingSession.energy_wh.set(rules.energy(readings)),
                    ChargingSession.max_power_w.set(power),
                    ChargingSession.cost_fen.set(cost),
                    ChargingSession.state.set(state),
                    ChargingSession.last_activity_at.set(now),
                    *_noted(session, notes),
                ]
            )
        except UpdateError:
            continue  # another reading won the race (version); merge again
        break
    else:
        return
    _guard(session, readings, now)


def _guard(session: ChargingSession, readings: list[tuple[datetime, int]], now: datetime) -> None:
    """The balance guard and the stop rules, for a session still delivering energy: charging
    (a suspended one is charging again once it reports) and stopping (a stop that did not arrive
    is sent again, at most once per reading interval)."""
    expected = pricing.expected_at_next_reading(session, readings, now, zone_of(session))
    reason = None
    if pricing.past_auto_stop(session, now):
        reason = "auto_stop"
    elif rules.balance_runs_out(int(session.prepaid_fen), expected, int(session.min_balance_fen)):
        reason = "balance"
    elif session.started_at is not None and rules.no_energy_yet(
        session.started_at, now, rules.energy(readings)
    ):
        reason = "no_energy"
    if session.state == rules.CHARGING and reason is not None:
        request_stop(session, now, reason)
    elif session.state == rules.STOPPING and session.transaction_id is not None:
        quiet = session.stop_sent_at is None or now - session.stop_sent_at >= rules.READING_INTERVAL
        if session.stop_pending or (reason is not None and quiet):
            _remote_stop(session, now)


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
    offset = clock_offset(session)
    if session.started_at is not None and stopped_at - offset < session.started_at - rules.CLOCK_SKEW:
        return False
    # the final reading is placed like every reading (offset, clamped to its arrival)
    complete(session, [*samples, (stopped_at, meter_stop, None)], now, reason or "charger")
    return True


def hold_released(session: ChargingSession) -> bool:
    """The prepay hold was already released (older sessions: an abandoned start refunded it all)."""
    if session.released_at is not None:
        return True
    return (
        session.state == rules.ABNORMAL
        and session.transaction_id is None
        and int(session.refunded_fen) >= int(session.prepaid_fen)
    )


def _release_posting(session: ChargingSession, total_fen: int, now: datetime, reason: str) -> Any:
    return ledger.hold_released(
        session.session_id,
        user_id=session.user_id,
        station_id=session.station_id,
        operator_id=session.operator_id,
        prepaid_fen=int(session.prepaid_fen),
        total_fen=total_fen,
        at=now,
        reason=reason,
    )


def _holds_connector(session: ChargingSession) -> bool:
    try:
        holds = Connector.get(session.charger_id, int(session.connector_id), consistent_read=True)
    except Connector.DoesNotExist:
        return False
    return holds.session_id == session.session_id


def complete(
    session: ChargingSession,
    samples: list[tuple[datetime, int, int | None]],
    now: datetime,
    reason: str,
    also: Callable[[TransactWrite], object] | None = None,
) -> ChargingSession:
    """Settle: bill from the readings, unused prepaid back to the wallet, connector freed; once.
    The hold is released exactly once whatever the path: a session whose prepay already went back
    (a failed start, then a force-end) completes with nothing more to move. `also` adds items to
    the settling transaction (a force-end's audit entry)."""
    for _ in range(4):
        if session.state == rules.COMPLETED:
            return session
        readings, power, notes = _with_readings(session, samples, now)
        released = hold_released(session)
        bill = pricing.bill(session, readings, zone_of(session))
        if released:
            bill = {**bill, "total_fen": 0, "note": "the prepaid amount was returned before"}
        settlement = rules.settle(int(session.prepaid_fen), int(bill["total_fen"]))
        connector = Connector(session.charger_id, int(session.connector_id))
        release = _holds_connector(session)
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
                                "refund_fen": 0 if released else settlement.refund_fen,
                                "owed_fen": 0 if released else settlement.owed_fen,
                            }
                        ),
                        *(
                            []
                            if released
                            else [
                                ChargingSession.refunded_fen.set(settlement.refund_fen),
                                ChargingSession.released_at.set(now),
                            ]
                        ),
                        ChargingSession.ended_at.set(now),
                        ChargingSession.end_reason.set(session.end_reason or reason),
                        ChargingSession.last_activity_at.set(now),
                        ChargingSession.stop_pending.remove(),
                        *_noted(session, notes),
                    ],
                    condition=(ChargingSession.state != rules.COMPLETED)
                    & (
                        ChargingSession.released_at.exists()
                        if released
                        else ChargingSession.released_at.does_not_exist()
                    ),
                )
                if not released:
                    wallet.credit(tx, session.user_id, settlement.refund_fen - settlement.owed_fen, now)
                    ledger.add(
                        tx, _release_posting(session, settlement.total_fen, now, reason), session.timezone
                    )
                if release:
                    tx.update(
                        connector,
                        actions=[Connector.session_id.remove()],
                        condition=Connector.session_id == session.session_id,
                    )
                if also is not None:
                    also(tx)
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


def abandon(
    session: ChargingSession,
    reason: str,
    now: datetime,
    also: Callable[[TransactWrite], object] | None = None,
) -> None:
    """A start that never began (the charger rejected it or never answered, including one stopped
    while starting): the session is abnormal, the whole prepaid amount goes back and the connector
    is free. Once: the release posting's key is the session's, whatever the path."""
    for _ in range(3):
        if session.state not in (rules.STARTING, rules.STOPPING) or session.transaction_id is not None:
            return
        if hold_released(session):
            return
        release = _holds_connector(session)
        try:
            with transaction() as tx:
                tx.update(
                    session,
                    actions=[
                        ChargingSession.state.set(rules.ABNORMAL),
                        ChargingSession.abnormal_reason.set(reason),
                        ChargingSession.refunded_fen.set(int(session.prepaid_fen)),
                        ChargingSession.released_at.set(now),
                        ChargingSession.ended_at.set(now),
                        ChargingSession.last_activity_at.set(now),
                    ],
                    condition=ChargingSession.state.is_in(rules.STARTING, rules.STOPPING)
                    & ChargingSession.transaction_id.does_not_exist()
                    & ChargingSession.released_at.does_not_exist(),
                )
                wallet.credit(tx, session.user_id, int(session.prepaid_fen), now)
                ledger.add(tx, _release_posting(session, 0, now, reason), session.timezone)
                if release:
                    tx.update(
                        Connector(session.charger_id, int(session.connector_id)),
                        actions=[Connector.session_id.remove()],
                        condition=Connector.session_id == session.session_id,
                    )
                if also is not None:
                    also(tx)
        except TransactWriteError:
            session.refresh(consistent_read=True)
            continue
        session.refresh(consistent_read=True)
        return


# ---------------------------------------------------------------------------------------------
# Staff and the sweeper


def force_end(operator_id: str, session_id: str, now: datetime, who: str = "system") -> ChargingSession:
    session = get_owned(
        ChargingSession, session_id, owner=("operator_id", operator_id), missing=_missing(), consistent=True
    )
    if session.state not in rules.FORCE_ENDABLE:
        raise Conflict(f"a {session.state} session cannot be force-ended", "not_open")
    live = session.state in (*rules.LIVE, rules.STOPPING) and session.transaction_id is not None
    before = {
        "state": session.state,
        "energy_wh": int(session.energy_wh),
        "prepaid_fen": int(session.prepaid_fen),
    }

    def audited(target: str) -> Callable[[TransactWrite], object]:
        return lambda tx: audit.add(
            tx,
            who,
            operator_id,
            "charging_session",
            session_id,
            "force_end",
            before,
            {"state": target},
            None,
            now,
        )

    if session.state in (rules.STARTING, rules.STOPPING) and session.transaction_id is None:
        abandon(session, "ended by staff before the charger started", now, also=audited(rules.ABNORMAL))
        session.refresh(consistent_read=True)
        return session
    session = complete(session, [], now, "force_ended", also=audited(rules.COMPLETED))
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
# Refunds: requested, reviewed and paid by the workflows context (through charging.ports, which
# moves the session's `refund_requested_fen` and `refunded_fen`); the session shows what is left.


def refundable_now(session: ChargingSession) -> int:
    """What a refund request may still ask for, counting the requests in flight."""
    total = int((session.bill or {}).get("total_fen", 0))
    prepaid, refunded = int(session.prepaid_fen), int(session.refunded_fen)
    return rules.refundable(session.state, total, prepaid, refunded, int(session.refund_requested_fen or 0))
