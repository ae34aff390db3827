"""Demo data for the local stack: enough to drive a whole parking visit within a minute.

- operator `demo-op` with lot `demo-lot` (entry lane `entry-1` with camera `demo-entry-cam`,
  exit lane `exit-1` with camera `demo-exit-cam`) and a tariff that charges from the first minute
  (no free minutes), so a visit driven by the simulator has something to pay;
- operator `other-op` with lot `other-lot`, to see the refusals across operators;
- driver `demo-driver` holding plate 粤B12345, driver `demo-driver-2` holding 粤A99999,
  staff `demo-staff` of `demo-op`;
- charging station `demo-station` inside `demo-lot` (charging waives 120 minutes of parking) with
  DC charger `demo-charger-1` (connectors 1 and 2, QR ids `demo-charger-1-1`, `demo-charger-1-2`),
  a time-of-use tariff, wallets of 200 yuan for `demo-driver` and a frozen one for `demo-frozen`.
Idempotent: running it again rewrites the same items.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from chalicelib.parking.models import Lane, Lot, PlateBinding, TariffVersion
from chalicelib.platform.models import CHARGER, GATE_CAMERA, Device, Operator

# 2.50 yuan per started half hour from the first minute, at most 30 yuan per 24 h; large cars
# pay double; on holidays small cars pay a flat 10 yuan per calendar day.
DEMO_TARIFFS: dict[str, dict[str, Any]] = {
    "demo-small": {
        "kind": "duration",
        "free_minutes": 0,
        "unit_minutes": 30,
        "unit_fen": 250,
        "cap_per_cycle_fen": 3000,
    },
    "demo-large": {
        "kind": "duration",
        "free_minutes": 0,
        "unit_minutes": 30,
        "unit_fen": 500,
        "cap_per_cycle_fen": 6000,
    },
    "demo-holiday": {"kind": "per_visit", "free_minutes": 0, "amount_fen": 1000, "cycle": "calendar_day"},
}
DEMO_PLAN: dict[str, dict[str, str | None]] = {
    "small": {"tariff_id": "demo-small", "holiday_tariff_id": "demo-holiday"},
    "large": {"tariff_id": "demo-large", "holiday_tariff_id": None},
    "other": {"tariff_id": "demo-small", "holiday_tariff_id": None},
}
DEMO_HOLIDAYS = ["2027-01-01", "2027-02-06", "2027-02-07", "2027-02-08", "2027-05-01", "2027-10-01"]

DEMO = {
    "operator_id": "demo-op",
    "lot_id": "demo-lot",
    "entry_device_id": "demo-entry-cam",
    "entry_lane_id": "entry-1",
    "exit_device_id": "demo-exit-cam",
    "exit_lane_id": "exit-1",
    "driver_sub": "demo-driver",
    "driver_plate": "粤B12345",
    "other_driver_sub": "demo-driver-2",
    "other_driver_plate": "粤A99999",
    "staff_sub": "demo-staff",
    "other_operator_id": "other-op",
    "other_lot_id": "other-lot",
    "other_staff_sub": "other-staff",
    "station_id": "demo-station",
    "charger_id": "demo-charger-1",
    "charger_qr_id": "demo-charger-1-1",
    "frozen_driver_sub": "demo-frozen",
}


def _scoped(tariff_id: str | None, operator_id: str) -> str | None:
    """Tariff ids are global; the demo gives each operator its own copies."""
    return f"{tariff_id}@{operator_id}" if tariff_id else None


def _lot(
    operator_id: str, lot_id: str, name: str, entry: tuple[str, str], exit_: tuple[str, str], now: datetime
) -> None:
    Operator(operator_id, name=f"{name} 运营", created_at=now).save()
    Lot(
        lot_id,
        operator_id=operator_id,
        name=name,
        timezone="Asia/Shanghai",
        capacity=200,
        grace_minutes=15,
        tariff_plan={
            vehicle_class: {key: _scoped(value, operator_id) for key, value in entry.items()}
            for vehicle_class, entry in DEMO_PLAN.items()
        },
        holidays=DEMO_HOLIDAYS,
        updated_at=now,
    ).save()
    for tariff_id, definition in DEMO_TARIFFS.items():
        TariffVersion(
            f"{tariff_id}@{operator_id}",
            1,
            operator_id=operator_id,
            name=tariff_id,
            definition=definition,
            created_at=now,
            created_by="demo",
        ).save()
    for (lane_id, device_id), direction, lane_name in ((entry, "in", "入口"), (exit_, "out", "出口")):
        Lane(
            lot_id,
            lane_id,
            name=lane_name,
            direction=direction,
            gate_id=f"{lane_id}-gate",
            device_ids=[device_id],
        ).save()
        Device(device_id, operator_id=operator_id, kind=GATE_CAMERA, lot_id=lot_id, lane_id=lane_id).save()


DEMO_CHARGING_TARIFF: dict[str, Any] = {
    "kind": "time_of_use",
    "periods": {
        "peak": {"electricity": 11000, "service": 8000},
        "flat": {"electricity": 7000, "service": 8000},
        "valley": {"electricity": 3500, "service": 8000},
    },
    "schedule": [
        {"start": "00:00", "end": "08:00", "period": "valley"},
        {"start": "08:00", "end": "12:00", "period": "peak"},
        {"start": "12:00", "end": "18:00", "period": "flat"},
        {"start": "18:00", "end": "22:00", "period": "peak"},
        {"start": "22:00", "end": "24:00", "period": "valley"},
    ],
}


def _charging(now: datetime) -> None:
    from datetime import timedelta

    from pynamodb.exceptions import TransactWriteError

    from chalicelib.charging.models import Charger, ChargingTariffVersion, Connector, QrCode, Station
    from chalicelib.ledger.ports import opening
    from chalicelib.payments.wallet import top_up

    operator_id = DEMO["operator_id"]
    ChargingTariffVersion(
        "demo-tou@demo-op",
        1,
        operator_id=operator_id,
        name="峰平谷演示",
        kind="ev",
        definition=DEMO_CHARGING_TARIFF,
        effective_from=now - timedelta(days=30),
        created_at=now,
        created_by="demo",
    ).save()
    Station(
        DEMO["station_id"],
        operator_id=operator_id,
        name="演示充电站",
        timezone="Asia/Shanghai",
        areas={"A": {"name": "A区", "power_limit_w": 240000}},
        tariff_id="demo-tou@demo-op",
        min_balance_fen=100,
        parking_waiver={"lot_id": DEMO["lot_id"], "minutes": 120},
    ).save()
    Charger(
        DEMO["charger_id"],
        operator_id=operator_id,
        station_id=DEMO["station_id"],
        area_id="A",
        kind="ev",
        serial="SN-DEMO-0001",
        model="DC-120",
        current_type="DC",
        rated_power_w=120000,
        connector_count=2,
    ).save()
    Device(DEMO["charger_id"], operator_id=operator_id, kind=CHARGER, station_id=DEMO["station_id"]).save()
    for connector_id in (1, 2):
        Connector(DEMO["charger_id"], connector_id, status="Available").save()
        QrCode(
            f"{DEMO['charger_id']}-{connector_id}", charger_id=DEMO["charger_id"], connector_id=connector_id
        ).save()
    for user_id, balance, status in (
        (DEMO["driver_sub"], 20000, "active"),
        (DEMO["other_driver_sub"], 5000, "active"),
        (DEMO["frozen_driver_sub"], 20000, "frozen"),
    ):
        # Opening balances go through the journal like any money (every wallet equals its postings).
        with contextlib.suppress(TransactWriteError):  # seeded before: the opening posting exists
            top_up(user_id, balance, opening("demo"), f"opening-{user_id}", now, status=status)


def seed(now: datetime) -> dict[str, str]:
    _lot(
        DEMO["operator_id"],
        DEMO["lot_id"],
        "演示停车场",
        (DEMO["entry_lane_id"], DEMO["entry_device_id"]),
        (DEMO["exit_lane_id"], DEMO["exit_device_id"]),
        now,
    )
    _lot(
        DEMO["other_operator_id"],
        DEMO["other_lot_id"],
        "其他停车场",
        ("entry-1", "other-entry-cam"),
        ("exit-1", "other-exit-cam"),
        now,
    )
    PlateBinding(DEMO["driver_plate"], user_id=DEMO["driver_sub"], bound_at=now).save()
    PlateBinding(DEMO["other_driver_plate"], user_id=DEMO["other_driver_sub"], bound_at=now).save()
    _charging(now)
    return dict(DEMO)
