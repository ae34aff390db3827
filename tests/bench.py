"""`make bench`: how fast parkcharge prices stays and how many DynamoDB round trips the gate
path makes. Prints the numbers and writes them to bench-results.json. Runs on one core, talks to
nothing (DynamoDB is moto in-process, the IoT data plane is a recorder)."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import tests.conftest  # noqa: F401  (test environment: keys, table prefix, no endpoints)
from tests.bench_cold import COLD_IMPORT_RATIO_BEFORE, bench_cold_import

KINDS: dict[str, dict[str, Any]] = {
    "per_visit": {"kind": "per_visit", "amount_fen": 1000, "free_minutes": 15, "cycle": "calendar_day"},
    "duration": {
        "kind": "duration",
        "free_minutes": 15,
        "first_block_minutes": 120,
        "first_block_fen": 500,
        "unit_minutes": 30,
        "unit_fen": 200,
        "cap_per_cycle_fen": 3000,
    },
    "segments": {
        "kind": "segments",
        "free_minutes": 15,
        "cap_per_cycle_fen": 4000,
        "segments": [
            {"start": "07:00", "end": "19:00", "unit_minutes": 60, "unit_fen": 300, "cap_fen": 2500},
            {"start": "19:00", "end": "23:00", "unit_minutes": 60, "unit_fen": 200, "cap_fen": 600},
            {"start": "23:00", "end": "07:00", "unit_minutes": 120, "unit_fen": 100, "cap_fen": 400},
        ],
    },
    "tiered": {
        "kind": "tiered",
        "free_minutes": 15,
        "bands": [
            {"up_to_minutes": 120, "amount_fen": 500},
            {"up_to_minutes": 480, "amount_fen": 1200},
            {"up_to_minutes": 1440, "amount_fen": 2500},
        ],
    },
    "free": {"kind": "free"},
}
STAYS = {"1h": timedelta(hours=1), "3d": timedelta(days=3), "1y": timedelta(days=365)}


def _rate(fn: Callable[[], object], seconds: float = 0.3) -> tuple[float, float]:
    """Calls per second and microseconds per call, over at least `seconds`."""
    fn()
    calls, start = 0, time.perf_counter()
    while True:
        for _ in range(50):
            fn()
        calls += 50
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return calls / elapsed, elapsed / calls * 1e6


def bench_pricing() -> dict[str, Any]:
    from chalicelib.parking.domain import tariffs

    zone = ZoneInfo("Asia/Shanghai")
    holidays = tariffs.Calendar.of(
        [datetime(2027, m, 1).date() for m in (1, 5, 10)],
        tariffs.parse({"kind": "per_visit", "amount_fen": 100}),
    )
    entered = datetime(2026, 11, 22, 9, 17, tzinfo=zone)
    out: dict[str, Any] = {}
    for name, definition in KINDS.items():
        tariff = tariffs.parse(definition)
        for stay_name, stay in STAYS.items():

            def quote(t: tariffs.Tariff = tariff, s: timedelta = stay) -> object:
                price = tariffs.price(t, entered, entered + s, zone, holidays)
                return price.breakdown()

            per_second, micros = _rate(quote)
            out[f"{name}/{stay_name}"] = {
                "quotes_per_second": round(per_second),
                "microseconds_per_quote": round(micros, 1),
            }
    return out


def bench_gate_round_trips() -> dict[str, Any]:
    """DynamoDB calls per capture on the gate path, cold and warm configuration cache."""
    from moto import mock_aws
    from pynamodb.connection.base import Connection

    calls: Counter[str] = Counter()
    original = Connection._make_api_call

    def counting(self: Connection, operation: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        calls[operation] += 1
        return original(self, operation, kwargs)

    with mock_aws():
        from chalicelib.parking import devices as handlers
        from chalicelib.platform import downlink
        from chalicelib.shared import cache
        from chalicelib.tables import create_all_tables
        from infra.local.demo import seed
        from tests.support.iot import Recorder, capture, iot_event

        create_all_tables()
        seed(datetime(2026, 11, 1, tzinfo=UTC))
        downlink.set_publisher(Recorder())
        cache.reset_all()
        Connection._make_api_call = counting  # type: ignore[method-assign,assignment]
        results: dict[str, Any] = {}
        try:
            t0 = datetime(2026, 11, 22, 1, tzinfo=UTC)
            for label, device, direction, at in (
                ("entry_cold_cache", "demo-entry-cam", "in", t0),
                ("entry_warm_cache", "demo-entry-cam", "in", t0),
                ("exit_cold_device", "demo-exit-cam", "out", t0 + timedelta(hours=2)),
                ("exit_warm_cache", "demo-exit-cam", "out", t0 + timedelta(hours=3)),
            ):
                plate = "粤C12345" if label == "entry_warm_cache" else "粤B12345"
                calls.clear()
                started = time.perf_counter()
                handlers.on_capture(iot_event(device, "capture", capture(device, direction, plate)), at)
                results[label] = {
                    "dynamodb_calls": dict(calls),
                    "round_trips": sum(calls.values()),
                    "milliseconds_in_process": round((time.perf_counter() - started) * 1000, 2),
                }
            results.update(_identity_entries(handlers, calls, iot_event, capture, t0))
            results.update(_no_repeat_cycle(handlers, cache, calls, iot_event, capture, t0))
        finally:
            Connection._make_api_call = original  # type: ignore[method-assign]
            downlink.set_publisher(None)
    return results


def _identity_entries(
    handlers: Any, calls: Counter[str], iot_event: Any, capture: Any, t0: datetime
) -> dict[str, Any]:
    """Entries by identity (docs/identities.md), warm cache: a temporary car and a card holder
    (the identity item comes with the visit Query: 2 round trips), a car of a several-car group
    (one more read of the card, whose space is a condition in the same transaction: 3), a one-space
    card's car while its space is lent and the guest it is lent to, a paid reservation's car (its
    pass and prepaid on the identity item: 2 each)."""
    from chalicelib.parking import config, identity_admin
    from chalicelib.parking import identity_contract as c

    staff = identity_admin.Staff("bench", "demo-op")
    identity_admin.put_type(staff, "demo-lot", "monthly", c.CardTypeIn(name="月卡"), t0)
    for plates, spaces in (
        (["粤E10001"], None),
        (["粤E20001", "粤E20002", "粤E20003"], 2),
        (["粤E40001"], None),
    ):
        body = c.CardIn(type_id="monthly", owner="bench", plates=plates, spaces=spaces)
        identity_admin.save_card(staff, "demo-lot", None, body, t0)
    config.clear_cache()
    config.lot("demo-lot")
    results: dict[str, Any] = {}
    at = t0 + timedelta(days=1)
    # A shared space (docs/identities.md#shared-spaces): 粤E40001's one space lent to 粤E40009 now.
    from chalicelib.parking import plates as bindings
    from chalicelib.parking import shared_spaces

    bindings.bind("bench-owner", "粤E40001", t0)
    lent = c.SharedSpaceIn(
        lot_id="demo-lot",
        host_plate="粤E40001",
        plate="粤E40009",
        starts=at - timedelta(hours=1),
        ends=at + timedelta(hours=1),
    )
    shared_spaces.create("bench-owner", lent, t0)
    _paid_reservation(staff, "粤E50001", at, t0)
    # A first capture re-sends the device's unacknowledged commands of the earlier runs.
    handlers.on_capture(
        iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤E00000")), at
    )
    for label, plate in (
        ("entry_temporary", "粤E00001"),
        ("entry_card_holder", "粤E10001"),
        ("entry_group_car", "粤E20001"),
        ("entry_group_car_full", "粤E20003"),
        ("entry_card_space_lent", "粤E40001"),
        ("entry_shared_space_guest", "粤E40009"),
        ("entry_paid_reservation", "粤E50001"),
    ):
        if label == "entry_group_car_full":
            handlers.on_capture(
                iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤E20002")), at
            )
        calls.clear()
        started = time.perf_counter()
        outcome = handlers.on_capture(
            iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", plate)), at
        )
        results[label] = {
            "outcome": outcome["result"],
            "dynamodb_calls": dict(calls),
            "round_trips": sum(calls.values()),
            "milliseconds_in_process": round((time.perf_counter() - started) * 1000, 2),
        }
    results.update(_stored_value_exit(handlers, calls, iot_event, capture, at))
    return results


def _paid_reservation(staff: Any, plate: str, at: datetime, t0: datetime) -> None:
    """A paid reservation for `plate` around `at`, booked as its payment's notification books it
    (docs/identities.md#paid-reservations-付费预约)."""
    from chalicelib.parking import config, identity_admin, paid_reservations, reservations
    from chalicelib.parking import identity_contract as c
    from chalicelib.shared.db import transaction

    offer = c.PaidReservationOffer(fee_fen=500, prepaid_fen=1000)
    identity_admin.set_options(staff, "demo-lot", c.OptionsIn(paid_reservation=offer), t0)
    config.clear_cache()
    body = c.ReservationIn(
        lot_id="demo-lot",
        plate=plate,
        starts=at - timedelta(hours=1),
        ends=at + timedelta(hours=1),
        paid=True,
    )
    made = reservations.create("bench-driver", body, t0)
    key = paid_reservations.payments_key(made["reservation_id"])
    booked = paid_reservations.booking("demo-lot", key, "rp-bench", 1500, t0)
    with transaction() as tx:
        paid_reservations.paid(tx, booked, t0)
    config.lot("demo-lot")  # cached again, as a running gate has it


def _stored_value_exit(
    handlers: Any, calls: Counter[str], iot_event: Any, capture: Any, at: datetime
) -> dict[str, Any]:
    """Exits with a fee due, warm cache: a temporary car and a stored-value card holder whose
    balance pays (one more read of the card; the debit is an item of the exit's transaction)."""
    from chalicelib.parking import identity_admin, stored_value
    from chalicelib.parking import identity_contract as c

    staff = identity_admin.Staff("bench", "demo-op")
    body = c.CardIn(type_id="monthly", owner="bench", plates=["粤E30001"], kind="stored_value")
    card = identity_admin.save_card(staff, "demo-lot", None, body, at)
    top_up = c.TopUpIn(top_up_id="bench", amount_fen=100_000)
    stored_value.top_up("bench", "demo-op", "demo-lot", card["id"], top_up, at)
    handlers.on_capture(
        iot_event("demo-entry-cam", "capture", capture("demo-entry-cam", "in", "粤E30001")), at
    )
    results: dict[str, Any] = {}
    for label, plate in (("exit_temporary_due", "粤E00001"), ("exit_stored_value", "粤E30001")):
        calls.clear()
        started = time.perf_counter()
        outcome = handlers.on_capture(
            iot_event("demo-exit-cam", "capture", capture("demo-exit-cam", "out", plate)),
            at + timedelta(hours=2),
        )
        results[label] = {
            "outcome": outcome["result"],
            "dynamodb_calls": dict(calls),
            "round_trips": sum(calls.values()),
            "milliseconds_in_process": round((time.perf_counter() - started) * 1000, 2),
        }
    return results


def _no_repeat_cycle(
    handlers: Any, cache: Any, calls: Counter[str], iot_event: Any, capture: Any, t0: datetime
) -> dict[str, Any]:
    """A plate with 20 visits in one no-repeat cycle: the 20th entry and exit make as many round
    trips as the first (the cycle's running total is on the previous visit, one item)."""
    from chalicelib.parking.models import Lot, TariffVersion, Visit

    TariffVersion(
        "bench-no-repeat@demo-op",
        1,
        operator_id="demo-op",
        name="按次不重复",
        definition={"kind": "per_visit", "amount_fen": 500, "free_minutes": 0, "repeat": "no_repeat"},
        created_at=t0,
        created_by="bench",
    ).save()
    Lot("demo-lot").update(
        actions=[
            Lot.tariff_plan.set(
                {
                    c: {"tariff_id": "bench-no-repeat@demo-op", "holiday_tariff_id": None}
                    for c in ("small", "large", "other")
                }
            )
        ]
    )
    cache.reset_all()
    plate, start = "粤D20202", t0 + timedelta(days=2)
    results: dict[str, Any] = {}

    def one(device: str, direction: str, at: datetime) -> dict[str, Any]:
        calls.clear()
        started = time.perf_counter()
        outcome = handlers.on_capture(iot_event(device, "capture", capture(device, direction, plate)), at)
        return {
            "outcome": outcome["result"],
            "dynamodb_calls": dict(calls),
            "round_trips": sum(calls.values()),
            "milliseconds_in_process": round((time.perf_counter() - started) * 1000, 2),
        }

    for n in range(20):
        at = start + timedelta(minutes=40 * n)
        entry = one("demo-entry-cam", "in", at)
        leaving = one("demo-exit-cam", "out", at + timedelta(minutes=20))
        if n == 0:  # the first visit pays the cycle's cap at the booth
            [first] = Visit.query(f"demo-lot#{plate}")
            first.update(actions=[Visit.paid_fen.set(500)])
            leaving = one("demo-exit-cam", "out", at + timedelta(minutes=21))
        if n in (0, 19):
            results[f"no_repeat_visit{n + 1}_entry"] = entry
            results[f"no_repeat_visit{n + 1}_exit"] = leaving
    return results


def main() -> None:
    os.environ.setdefault("PYTHONHASHSEED", "0")
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "pricing": bench_pricing(),
        "gate_path": bench_gate_round_trips(),
        "cold_import": bench_cold_import(),
        "cold_import_outside_lambda": bench_cold_import(in_lambda=False),
    }
    print(f"{'tariff/stay':<18}{'quotes/s':>12}{'µs/quote':>12}")
    for key, value in results["pricing"].items():
        print(f"{key:<18}{value['quotes_per_second']:>12}{value['microseconds_per_quote']:>12}")
    print("\ngate path (DynamoDB round trips per capture):")
    for key, value in results["gate_path"].items():
        print(f"  {key:<26}{value['round_trips']:>3}  {value['dynamodb_calls']}  {value.get('outcome', '')}")
    cold, outside = results["cold_import"], results["cold_import_outside_lambda"]
    print(
        f"\ncold import (Lambda's environment): app {cold['import_app_ms']} ms, "
        f"boto3 {cold['import_boto3_ms']} ms, ratio {cold['app_over_boto3']}"
        f"\ncold import (outside Lambda): app {outside['import_app_ms']} ms, "
        f"boto3 {outside['import_boto3_ms']} ms, ratio {outside['app_over_boto3']} "
        f"(before the regroup by context, measured so: {COLD_IMPORT_RATIO_BEFORE})"
    )
    out = Path(os.environ.get("BENCH_OUT", "bench-results.json"))
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
