"""Prestore with auto-pay end to end: a third party's prestore for a driver's plate (the staff API),
the owner's auto-pay on (the driver API); the car's exit capture over MQTT with a fee due opens the
barrier at once, and the visit's postings show the fee taken from the prestore."""

from __future__ import annotations

import uuid

import pytest

from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, EXIT_LANE, Api, Driver, Stack
from tests.e2e.test_parking import _enter, _opens, _park

pytestmark = pytest.mark.e2e


def test_prestore_with_auto_pay_opens_the_exit_and_books_the_debit(
    stack: Stack, entry: GateDevice, exit_gate: GateDevice, driver: Driver
) -> None:
    third_party = Api(
        stack.api, stack.token(f"e2e-third-{uuid.uuid4().hex[:6]}", ["staff", "finance"], DEMO_OPERATOR)
    )
    deposited = third_party.session.put(
        f"{stack.api}/v1/ops/lots/{DEMO_LOT}/prestore",
        json={"plate": driver.plate, "amount_fen": 50_000},
        timeout=15,
    )
    assert deposited.status_code == 200, deposited.text
    assert deposited.json()["balance_fen"] == 50_000
    turned_on = driver.api.session.put(
        f"{stack.api}/v1/driver/plate-pay", json={"plate": driver.plate, "auto_pay": True}, timeout=15
    )
    assert turned_on.status_code == 200, turned_on.text

    visit_id = _enter(entry, driver.plate)
    _park()
    since = exit_gate.mark()
    exit_gate.capture(driver.plate, "out")
    opened = exit_gate.wait_for("command", _opens(EXIT_LANE, visit_id), since=since)
    assert opened["device_id"] == exit_gate.device_id

    postings = third_party.get(f"/v1/ops/lots/{DEMO_LOT}/visits/{visit_id}/postings")
    assert postings.status_code == 200, postings.text
    [debit] = [p for p in postings.json()["postings"] if p["posting_id"] == f"pay:prestore-{visit_id}"]
    taken = next(line["amount_fen"] for line in debit["lines"] if line["account"].startswith("prestore:"))
    assert taken > 0 and debit["memo"]["method"] == "prestore" and debit["memo"]["source"] == "device"
    left = third_party.session.put(
        f"{stack.api}/v1/ops/lots/{DEMO_LOT}/prestore",
        json={"plate": driver.plate, "amount_fen": 0},
        timeout=15,
    )
    assert left.json()["balance_fen"] == 50_000 - taken
