"""Paid reservations and shared spaces end to end (docs/identities.md, "Paid reservations" and
"Shared spaces"): the demo lot's gate devices on MQTT, staff and drivers on HTTP, the sandbox
provider's signed notification. A paid reservation booked, paid (the notification delivered
twice, booked once), used by an entry in its window and an exit the prepaid covers (the barrier
opens without a payment; the unused prepaid is owed back); a card holder's space lent to a guest
(a later window's guest admitted early on its pass; the guest enters on the shared pass, the
owner's own car is temporary while the window lasts, the guest leaves inside the window owing
nothing)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from infra.local.simulator import GateDevice
from tests.e2e.support import DEMO_LOT, DEMO_OPERATOR, Api, Driver, Stack, new_plate
from tests.e2e.test_identities import LOT, POLL, STAY_SECONDS, _arrive, _card, _options, _remark

pytestmark = pytest.mark.e2e

FEE, PREPAID = 300, 600  # the demo tariff: 2.50 yuan per started half hour, so a short stay is covered
DELIVERIES = 2


@pytest.fixture(scope="module")
def desk(stack: Stack) -> Api:
    """An ops admin of the demo operator (identity options, cards, the journal)."""
    sub = f"e2e-sharing-desk-{uuid.uuid4().hex[:6]}"
    return Api(stack.api, stack.token(sub, ["staff", "ops_admin"], DEMO_OPERATOR))


@pytest.fixture
def paid_offer(desk: Api) -> Iterator[None]:
    """The demo lot offers paid reservations while the test runs."""
    _options(desk, {"paid_reservation": {"fee_fen": FEE, "prepaid_fen": PREPAID}})
    try:
        yield
    finally:
        _options(desk, {"paid_reservation": {"fee_fen": 0, "prepaid_fen": 0}})


def _another_driver(stack: Stack) -> Driver:
    """A second driver account holding a fresh plate (the fixture's `driver` is one per test)."""
    sub = f"e2e-guest-{uuid.uuid4().hex[:10]}"
    api = Api(stack.api, stack.token(sub, ["driver"]))
    for _ in range(5):
        plate = new_plate()
        bound = api.post("/v1/driver/plates", {"plate": plate})
        if bound.status_code == 201:
            return Driver(sub, plate, api)
        assert bound.status_code == 409, bound.text
    raise AssertionError("could not bind a fresh plate")


def _until_passed(instant: datetime) -> None:
    """Waits (bounded) until the wall clock the stack runs on has passed `instant`."""
    for _ in range(int(5 / POLL)):
        if datetime.now(UTC) > instant:
            return
        time.sleep(POLL)
    raise AssertionError(f"{instant.isoformat()} did not pass within 5 s")


def _lend(owner: Driver, guest: str, starts: datetime, ends: datetime) -> str:
    """The owner lends the window of their card's space to the guest plate; its label."""
    body = {"lot_id": DEMO_LOT, "host_plate": owner.plate, "plate": guest}
    lent = owner.api.post(
        "/v1/driver/shared-spaces", {**body, "starts": starts.isoformat(), "ends": ends.isoformat()}
    )
    assert lent.status_code == 201, lent.text
    return str(lent.json()["label"])


def _last_visit(driver: Driver, plate: str) -> dict[str, Any]:
    answer = driver.api.get("/v1/driver/visits", plate=plate)
    assert answer.status_code == 200, answer.text
    return dict(answer.json()["visits"][0])  # newest first


def _reservation_postings(desk: Api, reservation_id: str) -> dict[str, dict[str, int]]:
    """The reservation's postings in the lot's journal today (what finance reads): kind → the
    amount on each account."""
    answer = desk.get(f"{LOT}/journal")
    assert answer.status_code == 200, answer.text
    mine = [p for p in answer.json()["postings"] if p["subject"] == f"reservation:{reservation_id}"]
    kinds = [p["kind"] for p in mine]
    assert len(kinds) == len(set(kinds)), kinds  # each once
    return {p["kind"]: {line["account"]: line["amount_fen"] for line in p["lines"]} for p in mine}


def test_a_paid_reservation_is_paid_once_admits_the_car_and_owes_back_the_unused_prepaid(
    stack: Stack, desk: Api, paid_offer: None, driver: Driver, entry: GateDevice, exit_gate: GateDevice
) -> None:
    plate, now = driver.plate, datetime.now(UTC)
    window = {"starts": now.isoformat(), "ends": (now + timedelta(hours=1)).isoformat()}
    made = driver.api.post(
        "/v1/driver/reservations", {"lot_id": DEMO_LOT, "plate": plate, "paid": True, **window}
    )
    assert made.status_code == 201, made.text
    booked = made.json()
    assert (booked["status"], booked["fee_fen"], booked["prepaid_fen"], booked["total_fen"]) == (
        "awaiting_payment",
        FEE,
        PREPAID,
        FEE + PREPAID,
    )
    rid = booked["reservation_id"]
    url = f"{driver.api.base}/v1/driver/reservations/{rid}/payments"
    key = {"Idempotency-Key": f"e2e-{uuid.uuid4().hex}"}
    created = driver.api.session.post(url, json={"method": "sandbox"}, headers=key, timeout=15)
    assert created.status_code == 201, created.text
    order, payment_id = created.json()["provider_order"], created.json()["payment"]["payment_id"]
    assert order["amount_fen"] == FEE + PREPAID

    paid = requests.post(
        f"{stack.pay}/v1/pay",
        json={
            "out_trade_no": order["out_trade_no"],
            "amount_fen": order["amount_fen"],
            "deliveries": DELIVERIES,
        },
        timeout=30,
    )
    assert paid.status_code == 200, paid.text
    assert paid.json()["notified"] == [200] * DELIVERIES
    assert paid.json()["response"]["outcome"] == "already_applied"  # the second did nothing
    assert driver.api.get(f"/v1/driver/payments/{payment_id}").json()["status"] == "paid"
    seen = driver.api.get(f"/v1/driver/reservations/{rid}").json()
    assert (seen["status"], seen["payment_id"]) == ("paid", payment_id)
    assert _reservation_postings(desk, rid) == {  # booked once: the fee earned, the prepaid held
        "reservation_paid": {
            "provider_clearing:sandbox": FEE + PREPAID,
            f"revenue:{DEMO_OPERATOR}:parking": -FEE,
            f"reservation_prepaid:{rid}": -PREPAID,
        }
    }

    lines, opened = _arrive(entry, plate, "in")
    assert opened and lines == [plate, "访客 欢迎光临"]
    assert _remark(desk, plate).startswith(
        f"预约车辆入场 (单次通行证) (付费预约, 预付 {PREPAID // 100}.{PREPAID % 100:02d}元)"
    )
    time.sleep(STAY_SECONDS)  # a stay with a fee, which the prepaid covers
    _lines, opened = _arrive(exit_gate, plate, "out")
    assert opened  # no payment asked
    visit = _last_visit(driver, plate)
    assert visit["status"] == "exited" and visit["paid_fen"] == 0
    assert (visit["prepaid_fen"], visit["reservation_id"]) == (PREPAID, rid)  # what paid it
    fee = visit["total_fen"]
    assert 0 < fee < PREPAID
    seen = driver.api.get(f"/v1/driver/reservations/{rid}").json()
    assert (seen["status"], seen["owed_back_fen"]) == ("used", PREPAID - fee)  # the rest is owed back
    [listed] = [r for r in desk.get(f"{LOT}/reservations").json()["items"] if r["reservation_id"] == rid]
    assert (listed["status"], listed["owed_back_fen"]) == ("used", PREPAID - fee)
    # the prepaid left the reservation: the stay's fee paid the visit, the rest is a refund owed
    used = _reservation_postings(desk, rid)["reservation_used"]
    assert used == {
        f"reservation_prepaid:{rid}": PREPAID,
        f"visit:{visit['visit_id']}": -fee,
        f"refunds_payable:reservation:{rid}": -(PREPAID - fee),
    }


def test_a_shared_space_admits_the_guest_free_and_makes_the_owners_car_temporary(
    stack: Stack, desk: Api, driver: Driver, entry: GateDevice, exit_gate: GateDevice
) -> None:
    answer = desk.session.put(f"{desk.base}{LOT}/card-types/e2e-share", json={"name": "月卡"}, timeout=15)
    assert answer.status_code == 200, answer.text
    _card(desk, "e2e-share", [driver.plate])
    guest, early = _another_driver(stack), new_plate()
    starts = datetime.now(UTC) + timedelta(seconds=2)  # a lent window is in the future
    label = _lend(driver, guest.plate, starts, starts + timedelta(hours=1))
    # a later window's guest may come early (from 24 h before): admitted on its pass now
    later = _lend(driver, early, starts + timedelta(hours=2), starts + timedelta(hours=3))
    assert _arrive(entry, early, "in") == ([early, "共享车位 欢迎光临"], True)
    assert _remark(desk, early).startswith(f"共享车位入场 (车主 {driver.plate} {later})")
    # That early part is the lot's and priced (the demo tariff charges a started second): the
    # first window's guest comes once it has started, and leaves inside it owing nothing.
    _until_passed(starts)
    assert _arrive(entry, guest.plate, "in") == ([guest.plate, "共享车位 欢迎光临"], True)
    came = time.monotonic()
    assert _remark(desk, guest.plate).startswith(f"共享车位入场 (车主 {driver.plate} {label})")
    # the owner's own car while the space is lent: temporary, and the remark says why
    assert _arrive(entry, driver.plate, "in") == ([driver.plate, "欢迎光临"], True)
    assert f"车位共享中 ({label} 访客 {guest.plate})" in _remark(desk, driver.plate)
    time.sleep(max(0.0, STAY_SECONDS - (time.monotonic() - came)))  # long enough to pay as a temporary car
    assert _arrive(exit_gate, guest.plate, "out")[1] is True
    visit = _last_visit(guest, guest.plate)
    assert (visit["status"], visit["total_fen"], visit["paid_fen"]) == ("exited", 0, 0)
