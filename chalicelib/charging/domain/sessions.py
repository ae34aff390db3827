"""Charge sessions (充电订单, domain.md §3.3): states, guarded transitions, start checks, meter
readings and the stop rules. Pure: times and amounts in, decisions out."""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime, timedelta

STARTING = "starting"
CHARGING = "charging"
STOPPING = "stopping"
COMPLETED = "completed"
ABNORMAL = "abnormal"
SUSPENDED = "suspended"
STATES = (STARTING, CHARGING, STOPPING, COMPLETED, ABNORMAL, SUSPENDED)

# Where a session may go from each state. Force-end by staff settles from every open state.
TRANSITIONS: dict[str, frozenset[str]] = {
    STARTING: frozenset({CHARGING, STOPPING, ABNORMAL, COMPLETED}),
    CHARGING: frozenset({STOPPING, SUSPENDED, COMPLETED}),
    STOPPING: frozenset({SUSPENDED, COMPLETED, ABNORMAL}),
    SUSPENDED: frozenset({CHARGING, STOPPING, ABNORMAL, COMPLETED}),
    ABNORMAL: frozenset({COMPLETED}),
    COMPLETED: frozenset(),
}
FORCE_ENDABLE = frozenset({STARTING, CHARGING, STOPPING, SUSPENDED, ABNORMAL})
# States in which the charger may still be delivering energy (a stop command makes sense).
LIVE = frozenset({STARTING, CHARGING, SUSPENDED})

NO_ENERGY_WINDOW = timedelta(seconds=90)
CLOCK_SKEW = timedelta(minutes=5)
START_TIMEOUT = timedelta(minutes=3)
SILENCE_TIMEOUT = timedelta(minutes=5)
READING_INTERVAL = timedelta(seconds=60)
SUSPENDED_TO_ABNORMAL = timedelta(hours=24)
# A charger is online while its last message or lifecycle event said so, within this window.
ONLINE_WINDOW = timedelta(minutes=3)
DEFAULT_MIN_BALANCE_FEN = 100


class InvalidTransition(ValueError):
    pass


def can_move(current: str, target: str) -> bool:
    return target in TRANSITIONS.get(current, frozenset())


def require_move(current: str, target: str) -> None:
    if not can_move(current, target):
        raise InvalidTransition(f"a {current} session cannot become {target}")


@dataclass(frozen=True)
class Refusal:
    code: str
    message: str


def check_start(
    *,
    charger_online: bool,
    connector_status: str,
    connector_session: str | None,
    account_status: str,
    balance_fen: int,
    prepay_fen: int,
    min_balance_fen: int,
) -> Refusal | None:
    """Why a start is refused, or None. In the order a driver can act on them."""
    if account_status != "active":
        return Refusal("account_frozen", "this account is frozen and cannot charge; contact customer service")
    if not charger_online:
        return Refusal("charger_offline", "the charger is offline")
    if connector_session is not None or connector_status in (
        "Charging",
        "SuspendedEV",
        "SuspendedEVSE",
        "Finishing",
    ):
        return Refusal("connector_busy", "this connector is in use")
    if connector_status in ("Faulted", "Unavailable", "Reserved"):
        return Refusal("connector_unavailable", f"this connector is {connector_status.lower()}")
    if connector_status != "Preparing":
        return Refusal("not_plugged", "plug the connector into the car first")
    if prepay_fen < min_balance_fen:
        return Refusal("prepay_too_low", f"prepay at least {min_balance_fen} fen")
    if balance_fen < prepay_fen:
        return Refusal(
            "balance_too_low", f"the wallet holds {balance_fen} fen, less than the {prepay_fen} fen prepay"
        )
    return None


def merge_reading(readings: list[tuple[datetime, int]], at: datetime, wh: int) -> list[tuple[datetime, int]]:
    """Add a cumulative meter reading, in time order. Energy never goes down: each reading is at
    least every earlier one and at most every later one, so a late or repeated reading cannot lower
    the energy, and a stray high reading cannot be undone by a later low one."""
    times = [t for t, _ in readings]
    index = bisect.bisect_right(times, at)
    if index and times[index - 1] == at:
        merged = list(readings)
        merged[index - 1] = (at, max(readings[index - 1][1], wh))
    else:
        merged = [*readings[:index], (at, wh), *readings[index:]]
    envelope: list[tuple[datetime, int]] = []
    highest = 0
    for t, value in merged:
        highest = max(highest, value)
        envelope.append((t, highest))
    return envelope


def after_start(started_at: datetime | None, at: datetime) -> datetime:
    """A reading stamped at or before the start (clocks with whole seconds, small skew) counts just
    after it: the start reading is the meter start, and nothing is delivered before it."""
    if started_at is None or at > started_at:
        return at
    return started_at + timedelta(microseconds=1)


def energy(readings: list[tuple[datetime, int]]) -> int:
    """Energy delivered since the first reading (the meter start), in Wh."""
    if not readings:
        return 0
    return readings[-1][1] - readings[0][1]


def no_energy_yet(started_at: datetime, now: datetime, delivered_wh: int) -> bool:
    """A car that stays asleep: no energy within 90 s of the start ends the session."""
    return delivered_wh <= 0 and now - started_at >= NO_ENERGY_WINDOW


def balance_runs_out(prepaid_fen: int, expected_next_cost_fen: int, min_balance_fen: int) -> bool:
    """Stop now if the prepaid amount left after the next expected reading would be below the minimum
    (waiting until it is spent would overshoot by up to a minute of charging)."""
    return prepaid_fen - expected_next_cost_fen < min_balance_fen


def clock_ok(device_time: datetime, now: datetime) -> bool:
    return abs(device_time - now) <= CLOCK_SKEW


def clock_offset(device_time: datetime | None, now: datetime) -> timedelta:
    """The charger's clock offset (device - server) measured at StartTransaction, used to read its
    later stamps on the server's clock; an offset beyond the tolerance is not trusted (0)."""
    if device_time is None or not clock_ok(device_time, now):
        return timedelta(0)
    return device_time - now


@dataclass(frozen=True)
class Placed:
    at: datetime
    note: str | None  # why the stamp was not used as is


def place_reading(stamp: datetime, offset: timedelta, started_at: datetime | None, now: datetime) -> Placed:
    """Where a reading goes on the server's clock: its stamp corrected by the charger's offset (the
    tolerance holds both ways), never beyond the tolerance ahead of now (such a stamp is clamped
    to its arrival and the reason kept), never before the start. Pricing then costs what the
    real duration costs, whatever the charger's clock says."""
    at = stamp - offset
    note = None
    if at > now + CLOCK_SKEW:
        note = (
            f"reading stamped {stamp.isoformat()} is ahead of the server clock beyond the tolerance; clamped"
        )
        at = now
    return Placed(after_start(started_at, at), note)


@dataclass(frozen=True)
class Settlement:
    total_fen: int
    refund_fen: int  # unused prepaid, back to the wallet
    owed_fen: int  # cost beyond the prepaid amount, taken from the wallet (may go negative)


def settle(prepaid_fen: int, total_fen: int) -> Settlement:
    if total_fen <= prepaid_fen:
        return Settlement(total_fen, prepaid_fen - total_fen, 0)
    return Settlement(total_fen, 0, total_fen - prepaid_fen)


def refundable(
    state: str, total_fen: int, prepaid_fen: int, refunded_fen: int, in_flight_fen: int = 0
) -> int:
    """What a refund request may still ask for: only a completed session with a total above
    zero, never more than prepaid minus what was already refunded and what requests still in
    flight ask for."""
    if state != COMPLETED or total_fen <= 0:
        return 0
    return max(0, prepaid_fen - refunded_fen - in_flight_fen)


def charger_online(online: bool, last_seen_at: datetime | None, now: datetime) -> bool:
    return online and last_seen_at is not None and now - last_seen_at <= ONLINE_WINDOW


# What the sweeper does with an open session that has been quiet for a while.
ABANDON = "abandon"  # a start that never began: abnormal, prepaid returned
SUSPEND = "suspend"  # the charger went silent while charging or stopping
STOP_NO_ENERGY = "stop_no_energy"  # the car took no energy within the window
STOP_AUTO = "stop_auto"  # an e-bike past its tariff's time limit
MARK_ABNORMAL = "mark_abnormal"  # suspended for a day: an abnormal bill for staff


def sweep_action(
    state: str,
    *,
    created_at: datetime,
    last_activity_at: datetime,
    started_at: datetime | None,
    energy_wh: int,
    past_auto_stop: bool,
    now: datetime,
) -> str | None:
    """The sweeper's move for one open session, or None. Every move is one the transition table
    allows (tests check it)."""
    never_started = state == STARTING or (state == STOPPING and started_at is None)
    if never_started and now - created_at >= START_TIMEOUT:
        return ABANDON  # never started (a stop during `starting` included): prepay back, connector free
    if state in (CHARGING, SUSPENDED) and past_auto_stop:
        return STOP_AUTO  # e-bikes stop at their limit in every open state
    if state in (CHARGING, STOPPING) and now - last_activity_at >= SILENCE_TIMEOUT:
        return SUSPEND
    if state == CHARGING and started_at is not None and no_energy_yet(started_at, now, energy_wh):
        return STOP_NO_ENERGY
    if state == SUSPENDED and now - last_activity_at >= SUSPENDED_TO_ABNORMAL:
        return MARK_ABNORMAL
    return None


SWEEP_TARGETS = {
    ABANDON: ABNORMAL,
    SUSPEND: SUSPENDED,
    STOP_NO_ENERGY: STOPPING,
    STOP_AUTO: STOPPING,
    MARK_ABNORMAL: ABNORMAL,
}


def waiver_applies(plate: str | None, energy_wh: int, waiver: dict[str, object] | None) -> bool:
    """Charging waives parking only for a session that names a plate, took energy, and whose
    station sits in a lot with a waiver configured."""
    return bool(plate) and energy_wh > 0 and bool(waiver) and bool((waiver or {}).get("lot_id"))
