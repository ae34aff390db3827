"""Who is the car at the gate (docs/identities.md), through the staff and driver routes and the
real gate handlers on moto: what the barrier and the display do, what the visit says."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from chalice.test import Client
from pynamodb.exceptions import TransactWriteError

from chalicelib.ledger import checks
from chalicelib.parking import config, identities
from chalicelib.parking import devices as handlers
from chalicelib.parking.models import EXITED, INSIDE, Visit
from chalicelib.platform import audit
from chalicelib.shared.db import transaction
from tests.support.iot import Recorder, capture, iot_event
from tests.support.tokens import auth, staff

ENTRY, EXIT = "demo-entry-cam", "demo-exit-cam"
LOT = "/v1/ops/lots/demo-lot"
T0 = datetime.now(UTC).replace(microsecond=0)
HEADERS = staff()


def enter(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(ENTRY, "capture", capture(ENTRY, "in", plate)), at)


def leave(plate: str, at: datetime) -> dict[str, Any]:
    return handlers.on_capture(iot_event(EXIT, "capture", capture(EXIT, "out", plate)), at)


def call(client: Client, method: str, path: str, body: Any = None, headers: dict[str, str] = HEADERS) -> Any:
    response = getattr(client.http, method)(path, headers=headers, body=json.dumps(body) if body else None)
    return response.status_code, (response.json_body if response.body else None)


def visit(plate: str) -> Visit:
    return max((v for v in Visit.query(f"demo-lot#{plate}", Visit.visit_id < "~")), key=lambda v: v.visit_id)


def shown(published: Recorder, device: str) -> list[str]:
    return published.commands(device, "display")[-1]["lines"]


def card_type(client: Client, type_id: str, lanes: list[str] | None) -> None:
    status, _ = call(client, "put", f"{LOT}/card-types/{type_id}", {"name": "月卡", "lanes": lanes})
    assert status == 200


def card(client: Client, plates: list[str], **extra: Any) -> dict[str, Any]:
    body = {"type_id": "monthly", "owner": "张三", "plates": plates, "valid_until": "2099-01-01T00:00:00Z"}
    status, out = call(client, "post", f"{LOT}/cards", {**body, **extra})
    assert status == 201, out
    return out


def test_a_card_holder_is_vip_at_a_permitted_lane_and_free_at_the_exit(
    client: Client, published: Recorder
) -> None:
    card_type(client, "monthly", ["entry-1"])
    made = card(client, ["粤B10001", "粤B10002"])
    assert enter("粤B10001", T0)["result"] == "entered"
    assert visit("粤B10001").entry_remark.startswith("月卡入场")
    assert shown(published, ENTRY) == ["粤B10001", "月卡", "欢迎光临"]
    # the owner's second plate is covered too (two spaces: no counting)
    enter("粤B10002", T0)
    assert visit("粤B10002").identity["kind"] == "card"
    assert leave("粤B10001", T0 + timedelta(hours=5))["result"] == "exited"
    entries, _ = audit.query("demo-op", object_type="card", object_id=f"demo-lot/{made['id']}")
    assert [e.action for e in entries] == ["create"]


def test_at_a_lane_without_permission_the_card_holder_is_temporary_and_the_remark_says_why(
    client: Client, published: Recorder
) -> None:
    card_type(client, "monthly", ["exit-1"])
    card(client, ["粤B10003"])
    enter("粤B10003", T0)
    v = visit("粤B10003")
    assert v.identity["kind"] == "temporary"
    assert "无车道 entry-1 权限" in v.entry_remark
    assert leave("粤B10003", T0 + timedelta(hours=1))["result"] == "payment_required"


def test_a_three_car_two_space_group(client: Client, published: Recorder) -> None:
    card_type(client, "monthly", None)
    made = card(client, ["粤G00001", "粤G00002", "粤G00003"], spaces=2)
    enter("粤G00001", T0)
    enter("粤G00002", T0 + timedelta(minutes=1))
    enter("粤G00003", T0 + timedelta(minutes=2))
    third = visit("粤G00003")
    assert third.identity["kind"] == "temporary"
    assert "多位多车车位已满" in third.entry_remark and "粤G00001" in third.entry_remark
    # a group car leaves: the third stays temporary for this visit
    assert leave("粤G00001", T0 + timedelta(minutes=30))["result"] == "exited"
    assert leave("粤G00003", T0 + timedelta(minutes=31))["result"] == "payment_required"
    # its space taken back by an entry: VIP again after it exits and re-enters
    status, body = call(client, "get", f"{LOT}/cards/{made['id']}")
    assert status == 200 and sorted(body["inside"]) == ["粤G00002"]


def test_two_group_cars_at_once_never_both_take_the_last_space(client: Client, published: Recorder) -> None:
    """The space is a conditional write on the card: the second writer reads again and is full."""
    card_type(client, "monthly", None)
    card(client, ["粤G10001", "粤G10002"], spaces=1)
    lot = config.lot("demo-lot")
    assert lot is not None
    item_a, _ = identities.lookup("demo-lot", "粤G10001", 1)
    item_b, _ = identities.lookup("demo-lot", "粤G10002", 1)
    first, _ = identities.resolve(lot, "entry-1", "粤G10001", T0, item_a, False)
    second, state_b = identities.resolve(lot, "entry-1", "粤G10002", T0, item_b, False)
    assert first.group and second.group  # both read a free space
    enter("粤G10001", T0)
    # the second car's transaction, made on its stale read, fails on the card's version
    try:
        with transaction() as tx:
            identities.entry_writes(tx, lot, "粤G10002", second, state_b, "v-x", T0)
        raise AssertionError("the stale write went through")
    except TransactWriteError:
        pass
    enter("粤G10002", T0)
    assert visit("粤G10002").identity["kind"] == "temporary"


def test_a_blacklisted_plate_is_refused_while_its_window_is_active_and_admitted_after(
    client: Client, published: Recorder
) -> None:
    ends = T0 + timedelta(hours=1)
    status, entry = call(
        client,
        "post",
        f"{LOT}/lists",
        {"plate": "粤B66666", "kind": "black", "ends": ends.isoformat(), "reason": "逃费"},
    )
    assert status == 201
    assert enter("粤B66666", T0)["result"] == "refused"
    assert shown(published, ENTRY) == ["粤B66666", "黑名单车辆", "禁止通行"]
    assert not published.commands(ENTRY, "open_gate")
    assert enter("粤B66666", ends + timedelta(seconds=1))["result"] == "entered"
    entries, _ = audit.query("demo-op", object_type="list", object_id=f"demo-lot/{entry['id']}")
    assert [e.action for e in entries] == ["create"]


def test_a_card_outranks_the_blacklist_and_a_police_plate_is_free(
    client: Client, published: Recorder
) -> None:
    card_type(client, "monthly", None)
    card(client, ["粤B77777"])
    call(client, "post", f"{LOT}/lists", {"plate": "粤B77777", "kind": "black"})
    assert enter("粤B77777", T0)["result"] == "entered"
    enter("粤A1234警", T0)
    assert visit("粤A1234警").identity == {
        "kind": "special",
        "free": True,
        "card_id": None,
        "group": False,
        "tariff_id": None,
    }
    assert leave("粤A1234警", T0 + timedelta(hours=9))["result"] == "exited"


def test_a_whitelist_entry_is_free_while_valid(client: Client, published: Recorder) -> None:
    call(
        client, "post", f"{LOT}/lists", {"plate": "粤B88888", "kind": "white", "ends": "2099-01-01T00:00:00Z"}
    )
    enter("粤B88888", T0)
    assert leave("粤B88888", T0 + timedelta(hours=2))["result"] == "exited"


def test_a_single_use_visitor_pass_admits_once(client: Client, published: Recorder) -> None:
    status, made = call(
        client, "post", f"{LOT}/lists", {"plate": "粤V00001", "kind": "visitor", "single_use": True}
    )
    assert status == 201 and made["single_use"] is True
    enter("粤V00001", T0)
    assert visit("粤V00001").entry_remark.startswith("访客车辆入场")
    assert leave("粤V00001", T0 + timedelta(hours=1))["result"] == "exited"
    enter("粤V00001", T0 + timedelta(hours=2))
    assert visit("粤V00001").identity["kind"] == "temporary"


def test_a_locked_car_is_held_at_the_exit_until_its_owner_unlocks(
    client: Client, published: Recorder
) -> None:
    driver = auth("demo-driver")
    enter("粤B12345", T0)
    status, _ = call(
        client,
        "post",
        "/v1/driver/locks",
        {"lot_id": "demo-lot", "plate": "粤B12345", "locked": True},
        driver,
    )
    assert status == 200
    assert leave("粤B12345", T0 + timedelta(minutes=1))["result"] == "held"
    assert shown(published, EXIT) == ["粤B12345", "车辆已锁定", "请车主解锁后出场"]
    # someone else's plate cannot be locked
    other = auth("someone-else")
    status, _ = call(
        client, "post", "/v1/driver/locks", {"lot_id": "demo-lot", "plate": "粤B12345", "locked": True}, other
    )
    assert status == 403
    call(
        client,
        "post",
        "/v1/driver/locks",
        {"lot_id": "demo-lot", "plate": "粤B12345", "locked": False},
        driver,
    )
    waiting = leave("粤B12345", T0 + timedelta(minutes=2))
    assert waiting["result"] == "payment_required"
    # locked again while told to pay: the payment does not let it out, the next capture decides
    assert call(client, "post", f"{LOT}/shifts")[0] == 201  # cash is taken in an open shift
    lock = {"lot_id": "demo-lot", "plate": "粤B12345", "locked": True}
    call(client, "post", "/v1/driver/locks", lock, driver)
    status, _ = call(
        client, "post", f"{LOT}/visits/{waiting['visit_id']}/cash", {"amount_fen": waiting["due_fen"]}
    )
    assert status == 200 and visit("粤B12345").status == INSIDE
    call(client, "post", "/v1/driver/locks", {**lock, "locked": False}, driver)
    assert leave("粤B12345", T0 + timedelta(minutes=3))["result"] == "exited"


def test_open_gate_mode_lets_a_car_out_owing_and_the_next_visit_pays_it(
    client: Client, published: Recorder
) -> None:
    status, _ = call(
        client,
        "put",
        f"{LOT}/identity-options",
        {"open_gate_lanes": ["exit-1"], "arrears_blacklist_after": 2},
    )
    assert status == 200
    enter("粤B40404", T0)
    assert leave("粤B40404", T0 + timedelta(minutes=20))["result"] == "exited"  # owes 2.50
    first = visit("粤B40404")
    assert first.status == EXITED
    call(client, "put", f"{LOT}/identity-options", {"open_gate_lanes": []})
    enter("粤B40404", T0 + timedelta(hours=1))
    second = visit("粤B40404")
    assert second.arrears_fen == 250 and "有欠费 2.50元" in second.entry_remark
    out = leave("粤B40404", T0 + timedelta(hours=1, minutes=10))
    assert out == {"result": "payment_required", "visit_id": second.visit_id, "due_fen": 500}
    # the cashier takes the fee and the arrears: the car leaves, the arrears are settled
    assert call(client, "post", f"{LOT}/shifts")[0] == 201  # cash is taken in an open shift
    status, _ = call(client, "post", f"{LOT}/visits/{second.visit_id}/cash", {"amount_fen": 500})
    assert status == 200
    assert visit("粤B40404").status == EXITED
    enter("粤B40404", T0 + timedelta(hours=3))
    assert visit("粤B40404").arrears_fen == 0
    assert checks.run() == []


def test_unpaid_exits_blacklist_the_plate(client: Client, published: Recorder) -> None:
    call(client, "put", f"{LOT}/identity-options", {"open_gate": True, "arrears_blacklist_after": 2})
    for n in range(2):
        enter("粤B50505", T0 + timedelta(hours=n))
        leave("粤B50505", T0 + timedelta(hours=n, minutes=20))
    assert enter("粤B50505", T0 + timedelta(hours=3))["result"] == "refused"
    status, body = call(client, "get", f"{LOT}/lists")
    assert status == 200 and [i["plate"] for i in body["items"]] == ["粤B50505"]


def test_a_plateless_car_in_and_out_by_qr(client: Client, published: Recorder) -> None:
    driver = auth("plateless-driver")
    status, qr = call(client, "get", f"{LOT}/lanes/entry-1/qr")
    assert status == 200 and "lane_id=entry-1" in qr["qr"]
    scan = {"lot_id": "demo-lot", "lane_id": "entry-1", "scan_id": "s1"}
    status, inside = call(client, "post", "/v1/driver/plateless/scans", scan, driver)
    assert status == 200 and inside["result"] == "entered" and inside["plate"].startswith("无牌")
    assert published.commands(ENTRY, "open_gate")
    # the same driver cannot start another plateless visit while this one is open
    status, body = call(client, "post", "/v1/driver/plateless/scans", {**scan, "scan_id": "s2"}, driver)
    assert status == 409 and body["code"] == "plateless_visit_open"
    status, out = call(
        client, "post", "/v1/driver/plateless/scans", {**scan, "lane_id": "exit-1", "scan_id": "s3"}, driver
    )
    assert status == 200 and out["result"] in ("exited", "payment_required")
    assert visit(inside["plate"]).plateless_user == "plateless-driver"
    assert visit(inside["plate"]).status in (INSIDE, EXITED)


def test_round_trips_at_the_entry_by_identity(client: Client, published: Recorder, monkeypatch: Any) -> None:
    """A temporary car and a card holder: one Query and one transaction; a group car: one more
    read of its card (docs/identities.md)."""
    from pynamodb.connection.base import Connection

    card_type(client, "monthly", None)
    card(client, ["粤R00001"])
    card(client, ["粤R10001", "粤R10002"], spaces=1)
    enter("粤R99999", T0)  # the lot's configuration is cached now
    calls: list[str] = []
    real = Connection._make_api_call

    def counting(self: Connection, operation: str, kwargs: dict[str, Any]) -> Any:
        calls.append(operation)
        return real(self, operation, kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", counting)
    trips = {}
    for plate in ("粤R00002", "粤R00001", "粤R10001"):
        calls.clear()
        enter(plate, T0 + timedelta(minutes=1))
        trips[plate] = sorted(calls)
    assert trips == {
        "粤R00002": ["Query", "TransactWriteItems"],
        "粤R00001": ["Query", "TransactWriteItems"],
        "粤R10001": ["GetItem", "Query", "TransactWriteItems"],
    }


def test_a_card_holder_invites_a_guest_with_system_approval(client: Client, published: Recorder) -> None:
    driver = auth("demo-driver")  # holds 粤B12345
    window = {"starts": T0.isoformat(), "ends": (T0 + timedelta(hours=4)).isoformat()}
    body = {"lot_id": "demo-lot", "plate": "粤K00001", **window}
    status, refused = call(
        client, "post", "/v1/driver/reservations", {**body, "host_plate": "粤B12345"}, driver
    )
    assert status == 403 and refused["code"] == "not_a_card_holder"  # no card yet
    card_type(client, "monthly", None)
    card(client, ["粤B12345"])
    status, made = call(client, "post", "/v1/driver/reservations", {**body, "host_plate": "粤B12345"}, driver)
    assert status == 201 and made["status"] == "approved", made
    enter("粤K00001", T0 + timedelta(minutes=5))
    assert visit("粤K00001").entry_remark.startswith("预约车辆入场")
    assert leave("粤K00001", T0 + timedelta(hours=1))["result"] == "exited"


def test_a_reservation_with_manual_approval_waits_for_staff(
    client: Client, published: Recorder, machines: dict[str, str]
) -> None:
    from chalicelib.workflows import tasks

    call(client, "put", f"{LOT}/identity-options", {"reservation_approval": "manual"})
    driver = auth("someone")
    body = {
        "lot_id": "demo-lot",
        "plate": "粤K00002",
        "starts": T0.isoformat(),
        "ends": (T0 + timedelta(hours=4)).isoformat(),
    }
    status, made = call(client, "post", "/v1/driver/reservations", body, driver)
    assert status == 201 and made["status"] == "pending" and made["approval_id"]
    enter("粤K00002", T0 + timedelta(minutes=1))
    assert visit("粤K00002").identity["kind"] == "temporary"  # not approved yet
    leave("粤K00002", T0 + timedelta(minutes=2))
    approval_id = made["approval_id"]
    waiting = tasks.next_step({"approval_id": approval_id}, datetime.now(UTC))
    tasks.wait({"approval_id": approval_id, "level": waiting["level"], "token": "t1"}, datetime.now(UTC))
    status, _ = call(
        client, "post", f"/v1/ops/approvals/{approval_id}/decisions", {"level": 0, "decision": "approve"}
    )
    assert status == 200
    assert tasks.next_step({"approval_id": approval_id}, datetime.now(UTC))["action"] == "approved"
    tasks.execute({"approval_id": approval_id}, datetime.now(UTC))
    enter("粤K00002", T0 + timedelta(minutes=10))
    assert visit("粤K00002").identity["kind"] == "reservation"
