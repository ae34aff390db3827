"""The tenancy matrix: two operators, each with its staff, and two drivers; every route that takes
an id in its path or a reference in its body is tried by each side against the other's resources.

A crossing must answer 404 or 403 (or the route's own refusal, e.g. 409 for a taken plate or an
existing device id) and change nothing in any table (no DynamoDB write of any client succeeds
while it is answered: counted where moto answers every AWS call); the same request made against the caller's
own resources (the control) must not be refused that way, so a refusal is the tenancy check and
not a broken request. Listing routes must not show the other side's ids.

Every route of the app must be in MATRIX or EXEMPT (with its reason): a route added later fails
`test_every_route_is_in_the_matrix` until it joins.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import boto3
import pytest
from chalice.test import Client

from tests.support.iot import capture, iot_event
from tests.support.tokens import auth, merchant, staff


def now() -> datetime:
    """The wall clock (the HTTP routes read it too): read when used, not at import."""
    return datetime.now(UTC)


TOU = {
    "kind": "time_of_use",
    "periods": {"flat": {"electricity": 7000, "service": 8000}},
    "schedule": [{"start": "00:00", "end": "24:00", "period": "flat"}],
}
PARKING_TARIFF = {"kind": "per_visit", "free_minutes": 0, "amount_fen": 500, "cycle": "rolling_24h"}


@dataclass
class Side:
    """One tenant: an operator with its staff, and a driver, with their resources."""

    name: str
    operator: str
    staff: dict[str, str]
    driver: dict[str, str]
    driver_sub: str
    lot: str
    entry_device: str
    parking_tariff: str
    plate: str
    station: str = ""
    charger: str = ""
    free_qr: str = ""
    charging_tariff: str = ""
    quote: str = ""
    due_fen: int = 0
    payment: str = ""
    visit: str = ""
    session: str = ""
    approval: str = ""
    refund: str = ""
    merchant: dict[str, str] = field(default_factory=dict)  # a merchant staff member's headers
    merchant_id: str = ""
    merchant_boss: str = ""
    batch: str = ""
    claim_code: str = ""
    coupon: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def ids(self) -> list[str]:
        """What must never show up in the other side's answers."""
        values = [
            self.lot,
            self.entry_device,
            self.parking_tariff,
            self.plate,
            self.station,
            self.charger,
            self.charging_tariff,
            self.quote,
            self.payment,
            self.visit,
            self.session,
            self.approval,
            self.refund,
            self.merchant_id,
            self.batch,
            self.coupon,
            self.extra.get("reservation", ""),
        ]
        return [v for v in values if v]


@dataclass
class World:
    client: Client
    a: Side
    b: Side


def _ok(response: Any, *statuses: int) -> Any:
    assert response.status_code in statuses, (response.status_code, response.body)
    return response.json_body


def _charging_side(client: Client, side: Side) -> None:
    """A station (waiving parking in the side's own lot), a charger with two connectors, a
    charging tariff in force, and the charger online with connectors plugged."""
    from chalicelib.charging.models import ChargingTariffVersion, Connector, Station
    from chalicelib.platform import registry

    tariff = f"ct-{side.name}"
    ChargingTariffVersion(
        tariff,
        1,
        operator_id=side.operator,
        name="flat",
        kind="ev",
        definition=TOU,
        effective_from=now() - timedelta(days=1),
        created_at=now(),
        created_by="test",
    ).save()
    station = _ok(
        client.http.post(
            "/v1/ops/stations",
            headers=side.staff,
            body=json.dumps(
                {
                    "station_id": f"st-{side.name}",
                    "name": f"station {side.name}",
                    "parking_waiver": {"lot_id": side.lot, "minutes": 60},
                }
            ),
        ),
        201,
    )
    side.station = station["station_id"]
    Station(side.station).update(actions=[Station.tariff_id.set(tariff)])
    charger = _ok(
        client.http.post(
            "/v1/ops/chargers",
            headers=side.staff,
            body=json.dumps(
                {"charger_id": f"ch-{side.name}", "station_id": side.station, "connector_count": 2}
            ),
        ),
        201,
    )
    side.charger, side.charging_tariff = charger["charger_id"], tariff
    side.free_qr = charger["qr_ids"][1]
    registry.seen(side.charger, now())
    for connector_id in (1, 2):
        Connector(side.charger, connector_id).update(actions=[Connector.status.set("Preparing")])


def _driver_side(client: Client, side: Side) -> None:
    """The driver's car inside the side's lot with a quote and a payment, and a charge session
    at the side's charger."""
    from chalicelib.parking import devices

    devices.on_capture(
        iot_event(side.entry_device, "capture", capture(side.entry_device, "in", side.plate)),
        now() - timedelta(minutes=50),
    )
    quote = _ok(
        client.http.post("/v1/driver/quotes", headers=side.driver, body=json.dumps({"plate": side.plate})),
        201,
    )
    side.quote, side.due_fen = quote["quote_id"], quote["due_fen"]
    payment = _ok(
        client.http.post(
            "/v1/driver/payments",
            headers=side.driver,
            body=json.dumps({"quote_id": side.quote, "amount_fen": side.due_fen}),
        ),
        201,
    )
    side.payment = payment["payment_id"]
    side.visit = quote["visit_id"]
    # The provider confirms the payment, so the visit has postings in the journal.
    from chalicelib.payments import orders
    from chalicelib.payments.sandbox import Notification

    orders.apply_notification(
        Notification(side.payment, f"txn-{side.name}", side.due_fen, "SUCCESS", now().isoformat()), now()
    )
    session = _ok(
        client.http.post(
            "/v1/driver/charging/sessions",
            headers=side.driver,
            body=json.dumps({"qr_id": f"{side.charger}-1", "prepay_fen": 1000, "plate": side.plate}),
        ),
        201,
    )
    side.session = session["session_id"]
    refund = _ok(
        client.http.post(
            f"/v1/driver/parking/payments/{side.payment}/refunds",
            headers=side.driver,
            body=json.dumps({"amount_fen": 1, "reason": "tenancy"}),
        ),
        202,
    )
    side.refund = refund["refund_id"]


def _approval_side(client: Client, side: Side) -> None:
    """An approval of the side's operator, its first level waiting (the machine's wait task ran)."""
    from chalicelib.workflows import tasks

    approval = _ok(
        client.http.post(
            "/v1/ops/approvals",
            headers=side.staff,
            body=json.dumps({"kind": "rule_change", "subject": f"lot:{side.lot}", "title": "grace"}),
        ),
        201,
    )
    side.approval = approval["approval_id"]
    tasks.wait({"approval_id": side.approval, "level": 0, "token": f"token-{side.name}"}, now())


def _merchant_side(client: Client, side: Side) -> None:
    """A merchant at the side's lot with its super admin, a claimable batch, and a coupon given to
    the side's car in the lot."""
    made = _ok(
        client.http.post(
            "/v1/ops/merchants",
            headers=side.staff,
            body=json.dumps(
                {"lot_id": side.lot, "name": f"shop {side.name}", "merchant_id": f"mch-{side.name}"}
            ),
        ),
        201,
    )
    side.merchant_id, side.merchant_boss = made["merchant_id"], f"boss-{side.name}"
    side.merchant = merchant(side.merchant_boss)
    _ok(
        client.http.post(
            f"/v1/ops/merchants/{side.merchant_id}/members",
            headers=side.staff,
            body=json.dumps({"user_id": side.merchant_boss, "role": "super_admin"}),
        ),
        201,
    )
    batch = _ok(
        client.http.post(
            f"/v1/ops/merchants/{side.merchant_id}/batches",
            headers=side.staff,
            body=json.dumps({"kind": "amount", "value": 100, "quantity": 1000, "claimable": True}),
        ),
        201,
    )
    side.batch, side.claim_code = batch["batch_id"], batch["claim_code"]
    coupon = _ok(
        client.http.post(
            "/v1/merchant/coupons",
            headers=side.merchant,
            body=json.dumps({"batch_id": side.batch, "plate": side.plate}),
        ),
        201,
    )
    side.coupon = coupon["coupon_id"]
    bought = client.http.post(
        "/v1/merchant/batch-purchases",
        headers=side.merchant,
        body=json.dumps({"kind": "amount", "value": 100, "quantity": 10}),
    )
    side.extra["purchase"] = _ok(bought, 201)["batch"]["batch_id"]


def _identity_side(client: Client, side: Side) -> None:
    """A card type, two cards and two list entries in the side's lot (one of each for the delete
    probes)."""
    lot = f"/v1/ops/lots/{side.lot}"
    _ok(
        client.http.put(f"{lot}/card-types/monthly", headers=side.staff, body=json.dumps({"name": "月卡"})),
        200,
    )
    for n, name in ((1, "card"), (2, "card_del")):
        body = {"type_id": "monthly", "owner": "x", "plates": [f"粤T{side.name.upper()}000{n}"]}
        side.extra[name] = _ok(
            client.http.post(f"{lot}/cards", headers=side.staff, body=json.dumps(body)), 201
        )["id"]
    for n, name in ((1, "list"), (2, "list_del")):
        body = {"plate": f"粤L{side.name.upper()}000{n}", "kind": "black"}
        made = client.http.post(f"{lot}/lists", headers=side.staff, body=json.dumps(body))
        side.extra[name] = _ok(made, 201)["id"]
    # A card of a second plate of the driver's, lending two windows (one for each delete probe).
    from chalicelib.parking import plates

    host = f"粤S{side.name.upper()}0001"
    plates.bind(side.driver_sub, host, now())
    _ok(client.http.post(f"{lot}/cards", headers=side.staff, body=json.dumps(_card_body(host))), 201)
    for n, name in ((1, "share"), (3, "share_staff")):
        window = {
            "starts": (now() + timedelta(hours=n)).isoformat(),
            "ends": (now() + timedelta(hours=n + 1)).isoformat(),
        }
        body = {"lot_id": side.lot, "host_plate": host, "plate": f"粤Q{side.name.upper()}000{n}", **window}
        made = client.http.post("/v1/driver/shared-spaces", headers=side.driver, body=json.dumps(body))
        side.extra[name] = _ok(made, 201)["share_id"]
    # the side's driver's paid reservations (one to pay, one to cancel)
    offer = {"paid_reservation": {"fee_fen": 100, "prepaid_fen": 200}}
    _ok(client.http.put(f"{lot}/identity-options", headers=side.staff, body=json.dumps(offer)), 200)
    for name in ("reservation", "reservation_cancel"):
        booking: dict[str, Any] = {
            "lot_id": side.lot,
            "plate": f"粤R{side.name.upper()}0001",
            "starts": (now() + timedelta(hours=1)).isoformat(),
            "ends": (now() + timedelta(hours=2)).isoformat(),
            "paid": True,
        }
        made = client.http.post("/v1/driver/reservations", headers=side.driver, body=json.dumps(booking))
        side.extra[name] = _ok(made, 201)["reservation_id"]


def _card_body(plate: str) -> dict[str, Any]:
    return {"type_id": "monthly", "owner": "x", "plates": [plate]}


@pytest.fixture
def world(client: Client, demo: dict[str, str], machines: dict[str, str]) -> World:
    from chalicelib.payments.models import Wallet

    a = Side(
        "a",
        demo["operator_id"],
        staff(demo["operator_id"], "staff-a"),
        auth(demo["driver_sub"]),
        demo["driver_sub"],
        demo["lot_id"],
        demo["entry_device_id"],
        "demo-small@demo-op",
        demo["driver_plate"],
    )
    b = Side(
        "b",
        demo["other_operator_id"],
        staff(demo["other_operator_id"], "staff-b"),
        auth(demo["other_driver_sub"]),
        demo["other_driver_sub"],
        demo["other_lot_id"],
        "other-entry-cam",
        "demo-small@other-op",
        demo["other_driver_plate"],
    )
    Wallet(b.driver_sub, balance_fen=20000, status="active", updated_at=now()).save()
    for side in (a, b):
        _charging_side(client, side)
        _driver_side(client, side)
        _approval_side(client, side)
        _merchant_side(client, side)
        _identity_side(client, side)
    return World(client, a, b)


# --- the matrix --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One request by `who` ("staff", "driver" or "merchant") of the calling side."""

    method: str
    path: str
    who: str
    body: dict[str, Any] | None = None
    refused: frozenset[int] = frozenset({403, 404})
    # Extra checks of the refused answer (e.g. that it names no owner).
    check: Callable[[Any, Side, Side], None] | None = None


# A builder gets (me, target): the probe uses my credentials and the target's resources where the
# route references them. (me, other) is the attack; (me, me) is the control.
Builder = Callable[[Side, Side], list[Probe]]


def _no_owner_revealed(response: Any, me: Side, target: Side) -> None:
    text = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
    assert target.operator not in text and target.station not in text, text


def _takeover_probe(me: Side, target: Side) -> list[Probe]:
    """A charger registered with an id that exists as a gate camera (the target's), at my own
    station: refused as an existing device, without saying whose."""
    if me is target:
        return [
            Probe(
                "POST",
                "/v1/ops/chargers",
                "staff",
                {"charger_id": f"new-{uuid.uuid4().hex[:8]}", "station_id": me.station},
            )
        ]
    return [
        Probe(
            "POST",
            "/v1/ops/chargers",
            "staff",
            {"charger_id": target.entry_device, "station_id": me.station},
            refused=frozenset({409}),
            check=_no_owner_revealed,
        ),
        Probe(
            "POST",
            "/v1/ops/chargers",
            "staff",
            {"charger_id": f"new-{uuid.uuid4().hex[:8]}", "station_id": target.station},
        ),
    ]


def _preview_times() -> dict[str, str]:
    return {"entered_at": "2026-11-01T08:00:00+08:00", "exited_at": "2026-11-01T10:00:00+08:00"}


def _plan(tariff: str) -> dict[str, Any]:
    return {c: {"tariff_id": tariff, "holiday_tariff_id": None} for c in ("small", "large", "other")}


MATRIX: dict[tuple[str, str], Builder] = {
    # platform
    ("GET", "/v1/ops/devices/{device_id}/commands"): lambda me, t: [
        Probe("GET", f"/v1/ops/devices/{t.entry_device}/commands", "staff")
    ],
    # parking: drivers
    ("POST", "/v1/driver/plates"): lambda me, t: [
        # A plate is bound to one account: another's plate is refused as taken (409), not bound.
        Probe("POST", "/v1/driver/plates", "driver", {"plate": t.plate}, refused=frozenset({409}))
    ],
    ("GET", "/v1/driver/visits"): lambda me, t: [
        Probe("GET", f"/v1/driver/visits?plate={t.plate}", "driver")
    ],
    ("POST", "/v1/driver/quotes"): lambda me, t: [
        Probe("POST", "/v1/driver/quotes", "driver", {"plate": t.plate})
    ],
    ("GET", "/v1/driver/quotes/{quote_id}"): lambda me, t: [
        Probe("GET", f"/v1/driver/quotes/{t.quote}", "driver")
    ],
    # parking: staff
    ("GET", "/v1/ops/lots/{lot_id}"): lambda me, t: [Probe("GET", f"/v1/ops/lots/{t.lot}", "staff")],
    ("GET", "/v1/ops/lots/{lot_id}/visits"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/visits", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/records"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/records", "staff")
    ],
    ("POST", "/v1/ops/tariffs/preview"): lambda me, t: [
        Probe("POST", "/v1/ops/tariffs/preview", "staff", {"lot_id": t.lot, **_preview_times()}),
        Probe(
            "POST", "/v1/ops/tariffs/preview", "staff", {"tariff_id": t.parking_tariff, **_preview_times()}
        ),
    ],
    ("GET", "/v1/ops/tariffs/{tariff_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/tariffs/{t.parking_tariff}", "staff")
    ],
    ("PUT", "/v1/ops/tariffs/{tariff_id}"): lambda me, t: [
        Probe(
            "PUT", f"/v1/ops/tariffs/{t.parking_tariff}", "staff", {"name": "x", "definition": PARKING_TARIFF}
        )
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/tariff-plan"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/tariff-plan", "staff", _plan(me.parking_tariff)),
        Probe("PUT", f"/v1/ops/lots/{me.lot}/tariff-plan", "staff", _plan(t.parking_tariff)),
    ],
    # parking: staff's hands on the gate (a cashier of one operator acts on nothing of another)
    ("GET", "/v1/ops/lots/{lot_id}/occupancy"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/occupancy", "staff")
    ],
    ("POST", "/v1/ops/lots/{lot_id}/lanes/{lane_id}/release"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/lots/{t.lot}/lanes/exit-1/release",
            "staff",
            {"plate": "粤Z00001", "reason": "x"},
        ),
        Probe(
            "POST",
            f"/v1/ops/lots/{me.lot}/lanes/exit-1/release",
            "staff",
            {"visit_id": t.visit, "reason": "x"},
        ),
    ],
    ("POST", "/v1/ops/lots/{lot_id}/lanes/{lane_id}/open"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/lanes/entry-1/open", "staff", {"reason": "x"})
    ],
    ("POST", "/v1/ops/lots/{lot_id}/lanes/{lane_id}/match"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/lanes/exit-1/match", "staff", {"visit_id": t.visit}),
        Probe("POST", f"/v1/ops/lots/{me.lot}/lanes/exit-1/match", "staff", {"visit_id": t.visit}),
    ],
    ("POST", "/v1/ops/lots/{lot_id}/lanes/{lane_id}/corrections"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/lots/{t.lot}/lanes/entry-1/corrections",
            "staff",
            {"read_plate": t.plate, "plate": "粤Z99999"},
        )
    ],
    ("POST", "/v1/ops/lots/{lot_id}/visits/{visit_id}/cash"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/visits/{t.visit}/cash", "staff", {"amount_fen": 1}),
        Probe("POST", f"/v1/ops/lots/{me.lot}/visits/{t.visit}/cash", "staff", {"amount_fen": 1}),
    ],
    ("POST", "/v1/ops/lots/{lot_id}/visits/{visit_id}/close"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/visits/{t.visit}/close", "staff", {"reason": "x"}),
        Probe("POST", f"/v1/ops/lots/{me.lot}/visits/{t.visit}/close", "staff", {"reason": "x"}),
    ],
    # parking: the booth (shifts and the cash threshold)
    ("POST", "/v1/ops/lots/{lot_id}/shifts"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/shifts", "staff")
    ],
    ("POST", "/v1/ops/lots/{lot_id}/shifts/current/close"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/shifts/current/close", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/shifts"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/shifts", "staff")
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/booth-policy"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/booth-policy", "staff", {"confirm_above_fen": 1})
    ],
    ("GET", "/v1/ops/lots/{lot_id}/plates/{plate}/arrears"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/plates/{quote(t.plate)}/arrears", "staff")
    ],
    ("POST", "/v1/ops/lots/{lot_id}/plates/{plate}/arrears/cash"): lambda me, t: [
        Probe(
            "POST", f"/v1/ops/lots/{t.lot}/plates/{quote(t.plate)}/arrears/cash", "staff", {"amount_fen": 1}
        )
    ],
    # payments
    ("POST", "/v1/driver/payments"): lambda me, t: [
        Probe("POST", "/v1/driver/payments", "driver", {"quote_id": t.quote, "amount_fen": t.due_fen})
    ],
    ("GET", "/v1/driver/payments/{payment_id}"): lambda me, t: [
        Probe("GET", f"/v1/driver/payments/{t.payment}", "driver")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/journal"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/journal", "staff"),
        Probe("GET", f"/v1/ops/lots/{t.lot}/journal?format=csv", "staff"),
    ],
    ("GET", "/v1/ops/lots/{lot_id}/obligations"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/obligations", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/visits/{visit_id}/postings"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/visits/{t.visit}/postings", "staff"),
        Probe("GET", f"/v1/ops/lots/{me.lot}/visits/{t.visit}/postings", "staff"),
    ],
    ("GET", "/v1/ops/stations/{station_id}/journal"): lambda me, t: [
        Probe("GET", f"/v1/ops/stations/{t.station}/journal", "staff")
    ],
    ("GET", "/v1/ops/charging/sessions/{session_id}/postings"): lambda me, t: [
        Probe("GET", f"/v1/ops/charging/sessions/{t.session}/postings", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/payments"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/payments", "staff")
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/prestore"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/prestore", "staff", {"plate": t.plate, "amount_fen": 1})
    ],
    ("PUT", "/v1/driver/plate-pay"): lambda me, t: [
        Probe("PUT", "/v1/driver/plate-pay", "driver", {"plate": t.plate, "auto_pay": True})
    ],
    ("GET", "/v1/ops/lots/{lot_id}/payment-records"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/payment-records?day=2026-11-30", "staff")
    ],
    ("POST", "/v1/ops/reconciliation/{day}/differences/{difference_id}/resolve"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/reconciliation/2026-11-30/differences/{_difference(t)}/resolve",
            "staff",
            {"reason": "x"},
        )
    ],
    # charging: drivers
    ("POST", "/v1/driver/charging/sessions"): lambda me, t: [
        # Any operator's charger may be used; the plate (which gets the parking waiver) must be mine.
        Probe("POST", "/v1/driver/charging/sessions", "driver", {"qr_id": t.free_qr, "plate": t.plate})
    ],
    ("GET", "/v1/driver/charging/sessions/{session_id}"): lambda me, t: [
        Probe("GET", f"/v1/driver/charging/sessions/{t.session}", "driver")
    ],
    ("POST", "/v1/driver/charging/sessions/{session_id}/stop"): lambda me, t: [
        Probe("POST", f"/v1/driver/charging/sessions/{t.session}/stop", "driver", {})
    ],
    ("GET", "/v1/driver/charging/sessions/{session_id}/bill"): lambda me, t: [
        Probe("GET", f"/v1/driver/charging/sessions/{t.session}/bill", "driver")
    ],
    ("POST", "/v1/driver/charging/sessions/{session_id}/refunds"): lambda me, t: [
        Probe("POST", f"/v1/driver/charging/sessions/{t.session}/refunds", "driver", {"amount_fen": 1})
    ],
    # refunds (workflows)
    ("POST", "/v1/driver/parking/payments/{payment_id}/refunds"): lambda me, t: [
        Probe("POST", f"/v1/driver/parking/payments/{t.payment}/refunds", "driver", {"amount_fen": 1})
    ],
    ("GET", "/v1/driver/refunds/{refund_id}"): lambda me, t: [
        Probe("GET", f"/v1/driver/refunds/{t.refund}", "driver")
    ],
    ("POST", "/v1/ops/refunds"): lambda me, t: [
        Probe(
            "POST",
            "/v1/ops/refunds",
            "staff",
            {"subject_kind": "parking_payment", "subject_id": t.payment, "amount_fen": 1, "reason": "x"},
        ),
        Probe(
            "POST",
            "/v1/ops/refunds",
            "staff",
            {"subject_kind": "charging_session", "subject_id": t.session, "amount_fen": 1, "reason": "x"},
        ),
    ],
    ("GET", "/v1/ops/refunds/{refund_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/refunds/{t.refund}", "staff")
    ],
    ("POST", "/v1/ops/refunds/{refund_id}/retry"): lambda me, t: [
        Probe("POST", f"/v1/ops/refunds/{t.refund}/retry", "staff", {})
    ],
    # charging: staff
    ("POST", "/v1/ops/stations"): lambda me, t: [
        # The waiver case: a station of mine waiving parking in the other's lot.
        Probe(
            "POST",
            "/v1/ops/stations",
            "staff",
            {
                "name": "s",
                "station_id": f"st-{uuid.uuid4().hex[:8]}",
                "parking_waiver": {"lot_id": t.lot, "fen": 1},
            },
        )
    ],
    ("GET", "/v1/ops/stations/{station_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/stations/{t.station}", "staff")
    ],
    ("PUT", "/v1/ops/stations/{station_id}/tariff"): lambda me, t: [
        Probe("PUT", f"/v1/ops/stations/{t.station}/tariff", "staff", {"tariff_id": me.charging_tariff}),
        Probe("PUT", f"/v1/ops/stations/{me.station}/tariff", "staff", {"tariff_id": t.charging_tariff}),
    ],
    ("POST", "/v1/ops/chargers"): _takeover_probe,
    ("POST", "/v1/ops/chargers/{charger_id}/commands"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/chargers/{t.charger}/commands",
            "staff",
            {"action": "TriggerMessage", "payload": {"requestedMessage": "Heartbeat"}},
        )
    ],
    ("GET", "/v1/ops/chargers/{charger_id}/commands"): lambda me, t: [
        Probe("GET", f"/v1/ops/chargers/{t.charger}/commands", "staff")
    ],
    ("POST", "/v1/ops/charging/sessions/{session_id}/force-end"): lambda me, t: [
        Probe("POST", f"/v1/ops/charging/sessions/{t.session}/force-end", "staff", {})
    ],
    ("PUT", "/v1/ops/charging-tariffs/{tariff_id}"): lambda me, t: [
        Probe(
            "PUT", f"/v1/ops/charging-tariffs/{t.charging_tariff}", "staff", {"kind": "ev", "definition": TOU}
        )
    ],
    # coupons: the operator's staff on merchants, merchant staff, drivers claiming
    ("POST", "/v1/ops/merchants"): lambda me, t: [
        Probe("POST", "/v1/ops/merchants", "staff", {"lot_id": t.lot, "name": "x"})
    ],
    ("GET", "/v1/ops/merchants/{merchant_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/merchants/{t.merchant_id}", "staff")
    ],
    ("PUT", "/v1/ops/merchants/{merchant_id}/budget"): lambda me, t: [
        Probe("PUT", f"/v1/ops/merchants/{t.merchant_id}/budget", "staff", {"period": "day", "fen": 100})
    ],
    ("POST", "/v1/ops/merchants/{merchant_id}/members"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/merchants/{t.merchant_id}/members",
            "staff",
            {"user_id": f"u-{uuid.uuid4().hex[:8]}", "role": "admin"},
        )
    ],
    ("POST", "/v1/ops/merchants/{merchant_id}/batches"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/merchants/{t.merchant_id}/batches",
            "staff",
            {"kind": "amount", "value": 1, "quantity": 1},
        )
    ],
    ("GET", "/v1/ops/merchants/{merchant_id}/report"): lambda me, t: [
        Probe("GET", f"/v1/ops/merchants/{t.merchant_id}/report", "staff"),
        Probe("GET", f"/v1/ops/merchants/{t.merchant_id}/report?format=csv", "staff"),
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/coupon-settings"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/coupon-settings", "staff", {"one_unused_per_car": False})
    ],
    ("GET", "/v1/merchant/car"): lambda me, t: [
        # Only cars in the merchant's own lot: another lot's car is "not in the lot".
        Probe("GET", f"/v1/merchant/car?plate={t.plate}", "merchant", refused=frozenset({409}))
    ],
    ("POST", "/v1/merchant/coupons"): lambda me, t: [
        Probe(
            "POST",
            "/v1/merchant/coupons",
            "merchant",
            {"batch_id": t.batch, "plate": me.plate, "confirm_second": True},
        ),
        Probe(
            "POST",
            "/v1/merchant/coupons",
            "merchant",
            {"batch_id": me.batch, "plate": t.plate, "confirm_second": True},
            refused=frozenset({409}),
        ),
    ],
    ("GET", "/v1/merchant/batch-purchases/{batch_id}"): lambda me, t: [
        Probe("GET", f"/v1/merchant/batch-purchases/{t.extra['purchase']}", "merchant")
    ],
    ("POST", "/v1/merchant/members"): lambda me, t: [
        # A person belongs to one merchant: another merchant's boss is refused, not moved.
        Probe(
            "POST",
            "/v1/merchant/members",
            "merchant",
            {"user_id": t.merchant_boss if t is not me else f"u-{uuid.uuid4().hex[:8]}"},
            refused=frozenset({409}),
        )
    ],
    ("POST", "/v1/driver/coupons/claims"): lambda me, t: [
        # Another merchant's QR code is for cars in its own lot only; another's plate is not mine.
        Probe(
            "POST",
            "/v1/driver/coupons/claims",
            "driver",
            {"code": t.claim_code, "plate": me.plate},
            refused=frozenset({409}),
        ),
        Probe("POST", "/v1/driver/coupons/claims", "driver", {"code": me.claim_code, "plate": t.plate}),
    ],
    # workflows
    ("GET", "/v1/ops/approvals/{approval_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/approvals/{t.approval}", "staff")
    ],
    ("POST", "/v1/ops/approvals/{approval_id}/decisions"): lambda me, t: [
        Probe(
            "POST", f"/v1/ops/approvals/{t.approval}/decisions", "staff", {"level": 0, "decision": "approve"}
        )
    ],
    ("POST", "/v1/ops/approvals/{approval_id}/submit"): lambda me, t: [
        Probe("POST", f"/v1/ops/approvals/{t.approval}/submit", "staff", {})
    ],
    ("POST", "/v1/ops/approvals/{approval_id}/resume"): lambda me, t: [
        Probe("POST", f"/v1/ops/approvals/{t.approval}/resume", "staff", {})
    ],
    # parking: who is the car (docs/identities.md)
    ("GET", "/v1/ops/lots/{lot_id}/identity-options"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/identity-options", "staff")
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/identity-options"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/identity-options", "staff", {"open_gate": False})
    ],
    ("GET", "/v1/ops/lots/{lot_id}/card-types"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/card-types", "staff")
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/card-types/{type_id}"): lambda me, t: [
        Probe("PUT", f"/v1/ops/lots/{t.lot}/card-types/monthly", "staff", {"name": "x"}),
        Probe(
            "PUT",
            f"/v1/ops/lots/{me.lot}/card-types/own",
            "staff",
            {"name": "x", "tariff_id": t.parking_tariff},
        ),
    ],
    ("GET", "/v1/ops/lots/{lot_id}/cards"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/cards", "staff")
    ],
    ("POST", "/v1/ops/lots/{lot_id}/cards"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/cards", "staff", _card_body(f"粤N{me.name.upper()}0009"))
    ],
    ("GET", "/v1/ops/lots/{lot_id}/cards/{card_id}"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/cards/{t.extra['card']}", "staff")
    ],
    ("PUT", "/v1/ops/lots/{lot_id}/cards/{card_id}"): lambda me, t: [
        Probe(
            "PUT",
            f"/v1/ops/lots/{t.lot}/cards/{t.extra['card']}",
            "staff",
            _card_body(f"粤T{t.name.upper()}0001"),
        )
    ],
    ("POST", "/v1/ops/lots/{lot_id}/cards/{card_id}/top-ups"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/ops/lots/{t.lot}/cards/{t.extra['card']}/top-ups",
            "staff",
            {"top_up_id": f"tm-{me.name}", "amount_fen": 100},
        )
    ],
    ("DELETE", "/v1/ops/lots/{lot_id}/cards/{card_id}"): lambda me, t: [
        Probe("DELETE", f"/v1/ops/lots/{t.lot}/cards/{t.extra['card_del']}", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/lists"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/lists", "staff")
    ],
    ("POST", "/v1/ops/lots/{lot_id}/lists"): lambda me, t: [
        Probe("POST", f"/v1/ops/lots/{t.lot}/lists", "staff", {"plate": "粤Z00002", "kind": "white"})
    ],
    ("DELETE", "/v1/ops/lots/{lot_id}/lists/{entry_id}"): lambda me, t: [
        Probe("DELETE", f"/v1/ops/lots/{t.lot}/lists/{t.extra['list_del']}", "staff")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/lanes/{lane_id}/qr"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/lanes/entry-1/qr", "staff")
    ],
    ("POST", "/v1/driver/reservations"): lambda me, t: [
        Probe(
            "POST",
            "/v1/driver/reservations",
            "driver",
            {
                "lot_id": me.lot,
                "plate": "粤Z00004",
                "host_plate": t.plate,
                "starts": now().isoformat(),
                "ends": (now() + timedelta(hours=1)).isoformat(),
            },
        )
    ],
    ("GET", "/v1/ops/lots/{lot_id}/reservations"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/reservations", "staff")
    ],
    ("GET", "/v1/driver/reservations/{reservation_id}"): lambda me, t: [
        Probe("GET", f"/v1/driver/reservations/{t.extra['reservation']}", "driver")
    ],
    ("POST", "/v1/driver/reservations/{reservation_id}/payments"): lambda me, t: [
        Probe(
            "POST",
            f"/v1/driver/reservations/{t.extra['reservation']}/payments",
            "driver",
            {"method": "sandbox"},
        )
    ],
    ("POST", "/v1/driver/reservations/{reservation_id}/cancel"): lambda me, t: [
        Probe("POST", f"/v1/driver/reservations/{t.extra['reservation_cancel']}/cancel", "driver")
    ],
    ("GET", "/v1/driver/arrears"): lambda me, t: [
        Probe("GET", f"/v1/driver/arrears?lot_id={me.lot}&plate={quote(t.plate)}", "driver")
    ],
    ("POST", "/v1/driver/locks"): lambda me, t: [
        Probe("POST", "/v1/driver/locks", "driver", {"lot_id": me.lot, "plate": t.plate, "locked": True})
    ],
    ("POST", "/v1/driver/shared-spaces"): lambda me, t: [
        Probe(
            "POST",
            "/v1/driver/shared-spaces",
            "driver",
            {
                "lot_id": me.lot,
                "host_plate": t.plate,
                "plate": "粤Z00005",
                "starts": (now() + timedelta(hours=5)).isoformat(),
                "ends": (now() + timedelta(hours=6)).isoformat(),
            },
        )
    ],
    ("DELETE", "/v1/driver/shared-spaces/{share_id}"): lambda me, t: [
        Probe("DELETE", f"/v1/driver/shared-spaces/{t.extra['share']}?lot_id={t.lot}", "driver")
    ],
    ("GET", "/v1/ops/lots/{lot_id}/shared-spaces"): lambda me, t: [
        Probe("GET", f"/v1/ops/lots/{t.lot}/shared-spaces", "staff")
    ],
    ("DELETE", "/v1/ops/lots/{lot_id}/shared-spaces/{share_id}"): lambda me, t: [
        Probe("DELETE", f"/v1/ops/lots/{t.lot}/shared-spaces/{t.extra['share_staff']}", "staff")
    ],
}


def _difference(side: Side) -> str:
    """A reconciliation difference at the side's operator (what the daily run stores), open."""
    from chalicelib.payments.reconcile import Difference

    difference_id = f"wechat:p-tenancy-{side.name}"
    Difference(
        "2026-11-30",
        difference_id,
        operator_id=side.operator,
        provider="wechat",
        merchant_id="1900000109",
        kind="provider_only",
        out_trade_no=f"p-tenancy-{side.name}",
        provider_fen=100,
        found_at=now(),
    ).save()
    return difference_id


# Routes that need a staff role and take no id of another tenant: probed for the role only
# (`test_role_gated_routes_refuse_staff_without_the_role`).
ROLE_ONLY: dict[tuple[str, str], Builder] = {
    ("GET", "/v1/ops/flows/{kind}"): lambda me, t: [Probe("GET", "/v1/ops/flows/rule_change", "staff")],
    ("PUT", "/v1/ops/flows/{kind}"): lambda me, t: [
        Probe(
            "PUT", "/v1/ops/flows/rule_change", "staff", {"levels": [{"role": "finance"}], "timeout_days": 2}
        )
    ],
    ("GET", "/v1/ops/refunds"): lambda me, t: [Probe("GET", "/v1/ops/refunds?status=failed", "staff")],
    ("GET", "/v1/ops/reconciliation/{day}/differences"): lambda me, t: [
        Probe("GET", "/v1/ops/reconciliation/2026-11-30/differences", "staff")
    ],
    ("PUT", "/v1/ops/refund-policy"): lambda me, t: [
        Probe("PUT", "/v1/ops/refund-policy", "staff", {"finance_above_fen": 1000})
    ],
}

# Listing routes: they take no id, and answer only the caller's own things.
LISTINGS: dict[tuple[str, str], str] = {
    ("GET", "/v1/driver/plates"): "driver",
    ("GET", "/v1/driver/charging/sessions"): "driver",
    ("GET", "/v1/ops/lots"): "staff",
    ("GET", "/v1/ops/tariffs"): "staff",
    ("GET", "/v1/ops/stations"): "staff",
    ("GET", "/v1/ops/charging/abnormal"): "staff",
    ("GET", "/v1/ops/charging/refund-requests"): "staff",
    ("GET", "/v1/ops/inbox"): "staff",
    ("GET", "/v1/driver/refunds"): "driver",
    ("GET", "/v1/driver/reservations"): "driver",
    ("GET", "/v1/ops/refunds"): "staff",
    ("GET", "/v1/ops/audit"): "staff",
    ("GET", "/v1/merchant/me"): "merchant",
    ("GET", "/v1/merchant/batches"): "merchant",
    ("GET", "/v1/merchant/coupons"): "merchant",
    ("GET", "/v1/merchant/report"): "merchant",
}

EXEMPT: dict[tuple[str, str], str] = {
    ("GET", "/v1/driver/shared-spaces"): "a driver's own shared windows at the lot the query names "
    "(host plates bound to the caller, at any operator's lot); another driver's are never shown "
    "(tests/integration/parking/test_shared_spaces.py)",
    ("GET", "/v1/health"): "public liveness check; reads and names nothing",
    ("GET", "/v1/openapi.json"): "the public API contract, generated from the routes; reads no data",
    ("POST", "/v1/callbacks/payments/sandbox"): "called by the payment provider, authenticated by its "
    "signature (tests/integration/test_api_payments.py); the order it names is checked against its amount",
    ("POST", "/v1/pay/wechat/notify"): "called by WeChat Pay, authenticated by its signature with the "
    "platform key its serial names (tests/integration/payments/test_provider_callbacks.py); the order must "
    "be a WeChat order at a site of that merchant, for its amount",
    ("POST", "/v1/pay/alipay/notify"): "called by Alipay, authenticated by its RSA2 sign with the key of the "
    "app it names (tests/integration/payments/test_provider_callbacks.py); the order must be an Alipay order "
    "at a site of that app and seller, for its amount",
    ("POST", "/v1/pay/wechat/refund-notify"): "called by WeChat Pay, authenticated by its signature with "
    "the platform key its serial names (tests/integration/workflows/test_refund_channels.py); the refund "
    "must be our WeChat refund of that number, for its amount",
    ("POST", "/v1/driver/wallet/top-ups"): "tops up the caller's own wallet (the token's subject); lot_id "
    "names the public site whose merchant account takes the money, as any driver may pay at any lot "
    "(tests/integration/payments/test_wallet_flows.py)",
    ("POST", "/v1/merchant/batch-purchases"): "buys a batch for the caller's own merchant (its membership "
    "record, looked up by the token's subject) at that merchant's lot; no id is taken from the request "
    "(tests/integration/coupons/test_batch_purchases.py)",
    ("POST", "/v1/driver/wallet/withdrawals"): "withdraws from the caller's own wallet through the caller's "
    "own top-ups (found by the token's subject); no id is taken from the request "
    "(tests/integration/workflows/test_wallet_withdrawal.py)",
    ("GET", "/v1/driver/wallet"): "the caller's own wallet, keyed by the token's subject; no id is taken "
    "from the request",
    ("POST", "/v1/ops/tariffs"): "creates a tariff of the caller's operator; references nothing",
    ("POST", "/v1/ops/charging-tariffs"): "creates a charging tariff of the caller's operator; references "
    "nothing",
    ("POST", "/v1/ops/charging-tariffs/preview"): "prices an inline definition; references nothing stored",
    ("POST", "/v1/ops/approvals"): "opens an approval of the caller's operator; its subject is a label, "
    "read by nothing as a reference",
    ("GET", "/v1/ops/flows/{kind}"): "the caller's operator's template for a kind (kinds are global); "
    "role-gated: ROLE_ONLY",
    ("PUT", "/v1/ops/flows/{kind}"): "saves the caller's operator's template for a kind (kinds are "
    "global); role-gated: ROLE_ONLY",
    ("GET", "/v1/ops/reconciliation/{day}/differences"): "the day's differences at the caller's "
    "operator's merchant accounts, filtered by the token's operator (a day is not a tenant's id; "
    "tests/integration/payments/test_reconciliation.py); role-gated: ROLE_ONLY",
    ("GET", "/v1/ops/refund-policy"): "the caller's operator's refund policy, keyed by the token's operator; "
    "no id is taken from the request",
    ("PUT", "/v1/ops/refund-policy"): "sets the caller's operator's refund policy, keyed by the token's "
    "operator; references nothing; role-gated: ROLE_ONLY",
    ("POST", "/v1/driver/plateless/scans"): "a lane's QR code is public (any driver may park a plateless car "
    "in any lot); the visit is the caller's own, keyed by the token's subject, and only that driver's scan "
    "lets it out",
}


def app_routes() -> set[tuple[str, str]]:
    from app import app

    return {(method, path) for path, methods in app.routes.items() for method in methods}


def test_every_route_is_in_the_matrix() -> None:
    known = set(MATRIX) | set(LISTINGS) | set(EXEMPT)
    missing = sorted(app_routes() - known)
    assert missing == [], (
        f"routes with no tenancy matrix entry (add one, or an exemption with its reason): {missing}"
    )
    assert sorted(known - app_routes()) == [], "matrix entries for routes that no longer exist"
    assert not set(MATRIX) & set(EXEMPT) and not set(LISTINGS) & set(EXEMPT)


def _role_gated() -> dict[tuple[str, str], tuple[str, ...]]:
    from app import ROUTES

    return {(spec.method, spec.path): spec.roles for routes in ROUTES for spec in routes.specs if spec.roles}


def test_every_role_gated_route_has_a_probe() -> None:
    missing = sorted(set(_role_gated()) - set(MATRIX) - set(ROLE_ONLY))
    assert missing == [], f"role-gated routes with no probe (add them to MATRIX or ROLE_ONLY): {missing}"
    assert not set(ROLE_ONLY) - set(_role_gated()), "ROLE_ONLY lists a route that needs no role"


# --- running it --------------------------------------------------------------------------------


_WRITES = frozenset(
    {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "ExecuteStatement"}
)
_written: list[str] = []


@pytest.fixture(autouse=True)
def count_writes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every DynamoDB write that succeeds, by any client of the process (moto's stub answers them
    all): what "nothing changed" is checked on, without reading every table around each probe."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request

    def process_request(self: Any, request: Any) -> Any:
        response = original(self, request)
        target = request.headers.get("X-Amz-Target") or b""
        target = target.decode() if isinstance(target, bytes) else str(target)
        operation = target.rsplit(".", 1)[-1]
        if target.startswith("DynamoDB_") and operation in _WRITES and response and response[0] == 200:
            _written.append(operation)
        return response

    monkeypatch.setattr(BotocoreStubber, "process_request", process_request)
    yield


def _writes() -> int:
    return len(_written)


def _send(client: Client, side: Side, probe: Probe) -> Any:
    headers = {"staff": side.staff, "merchant": side.merchant}.get(probe.who, side.driver)
    body = json.dumps(probe.body).encode() if probe.body is not None else b""
    return client.http.request(probe.method, probe.path, headers=headers, body=body)


def _code(response: Any) -> str | None:
    body = response.json_body
    return body.get("code") if isinstance(body, dict) else None


def _directions(world: World) -> Iterator[tuple[Side, Side]]:
    yield world.a, world.b
    yield world.b, world.a


def _cross(world: World, route: tuple[str, str], me: Side, other: Side) -> list[str]:
    """Each probe of the route by `me` against `other`, then the control; the leaks found."""
    leaks: list[str] = []
    build = MATRIX[route]
    refusals: list[tuple[Probe, str | None]] = []
    for probe in build(me, other):
        before = _writes()
        attack = _send(world.client, me, probe)
        if attack.status_code not in probe.refused:
            leaks.append(
                f"{me.name}: {probe.method} {probe.path} {probe.body} -> {attack.status_code} {attack.body!r}"
            )
            continue
        if probe.check is not None:
            probe.check(attack, me, other)
        if _writes() != before:
            leaks.append(f"{me.name}: {probe.method} {probe.path} was refused but wrote {_written[before:]}")
        refusals.append((probe, _code(attack)))
    # The control: the same requests against my own resources are not refused that way.
    for probe, (attack_probe, refused_as) in zip(build(me, me), refusals, strict=False):
        control = _send(world.client, me, probe)
        broken = control.status_code >= 500 or control.status_code == 401
        if broken or (control.status_code in attack_probe.refused and _code(control) == refused_as):
            leaks.append(
                f"{me.name}: control {probe.method} {probe.path} -> {control.status_code} {control.body!r}"
            )
    return leaks


@pytest.mark.parametrize("direction", ["a->b", "b->a"])
def test_no_route_crosses_into_another_tenant(world: World, direction: str) -> None:
    me, other = (world.a, world.b) if direction == "a->b" else (world.b, world.a)
    leaks = [leak for route in sorted(MATRIX) for leak in _cross(world, route, me, other)]
    assert leaks == []


def test_listings_show_only_the_callers_own(world: World) -> None:
    leaks = []
    for (method, path), who in sorted(LISTINGS.items()):
        for me, other in _directions(world):
            response = _send(world.client, me, Probe(method, path, who))
            text = response.body.decode()
            shown = [i for i in other.ids() if i in text]
            if response.status_code != 200 or shown:
                leaks.append(f"{me.name}: {method} {path} -> {response.status_code} shows {shown}")
    assert leaks == []


def test_another_operators_device_id_cannot_be_taken_and_its_presence_stays_its_own(world: World) -> None:
    """B registers a charger with A's gate camera id: 409 without whose; A's presence events
    still update A's device."""
    from chalicelib.platform import presence
    from chalicelib.platform.models import Device

    a, b = world.a, world.b
    taken = world.client.http.post(
        "/v1/ops/chargers",
        headers=b.staff,
        body=json.dumps({"charger_id": a.entry_device, "station_id": b.station}),
    )
    assert taken.status_code == 409 and taken.json_body["code"] == "device_exists"
    assert a.operator not in taken.body.decode() and a.lot not in taken.body.decode()
    device = Device.get(a.entry_device)
    assert (device.operator_id, device.kind, device.lot_id) == (a.operator, "gate_camera", a.lot)
    at = now() + timedelta(minutes=1)
    for kind in ("disconnected", "connected"):
        event = {
            "payload_b64": base64.b64encode(
                json.dumps(
                    {"eventType": kind, "clientId": a.entry_device, "timestamp": int(at.timestamp() * 1000)}
                ).encode()
            ).decode(),
            "topic": f"$aws/events/presence/{kind}/{a.entry_device}",
            "topic_device_id": a.entry_device,
        }
        assert presence.on_presence(event, at)["result"] == "recorded"
        device = Device.get(a.entry_device)
        assert device.online is (kind == "connected") and device.operator_id == a.operator
        at += timedelta(seconds=1)
    own = world.client.http.get(f"/v1/ops/devices/{a.entry_device}/commands", headers=a.staff)
    assert own.status_code == 200
    assert (
        world.client.http.get(f"/v1/ops/chargers/{a.entry_device}/commands", headers=b.staff).status_code
        == 404
    )


def test_a_waiver_in_another_operators_lot_is_refused_and_a_foreign_plate_gets_no_waiver(
    world: World,
) -> None:
    """The reported attack end to end: B's station waiving A's lot is refused; B's driver cannot
    start a session naming A's driver's plate; A's car still owes its fee."""
    a, b = world.a, world.b
    station = world.client.http.post(
        "/v1/ops/stations",
        headers=b.staff,
        body=json.dumps({"name": "evil", "parking_waiver": {"lot_id": a.lot, "minutes": 120}}),
    )
    assert station.status_code == 404 and station.json_body["code"] == "lot_not_found"
    start = world.client.http.post(
        "/v1/driver/charging/sessions",
        headers=b.driver,
        body=json.dumps({"qr_id": b.free_qr, "prepay_fen": 1, "plate": a.plate}),
    )
    assert start.status_code == 403 and start.json_body["code"] == "not_your_plate"
    quote = world.client.http.post("/v1/driver/quotes", headers=a.driver, body=json.dumps({"plate": a.plate}))
    # (the world's fixture paid A's fee, so what is checked is the fee itself and its discounts)
    assert quote.status_code == 201 and quote.json_body["total_fen"] > 0
    assert not [d for d in quote.json_body["discounts"] if d.get("kind") == "charging_waiver"]


def test_role_gated_routes_refuse_staff_without_the_role(world: World) -> None:
    """A staff member of the same operator holding none of a route's roles: 403 `role_required`
    on the caller's own resources, and nothing changes."""
    leaks = []
    for route, roles in sorted(_role_gated().items()):
        build = MATRIX.get(route) or ROLE_ONLY[route]
        for side in (world.a, world.b):
            others = tuple(r for r in ("cashier", "customer_service", "finance") if r not in roles)
            plain = replace(side, staff=staff(side.operator, f"plain-{side.name}", roles=others))
            for probe in build(plain, plain):
                before = _writes()
                answer = _send(world.client, plain, probe)
                if answer.status_code != 403 or _code(answer) != "role_required":
                    leaks.append(
                        f"{side.name}: {probe.method} {probe.path} -> {answer.status_code} {answer.body!r}"
                    )
                elif _writes() != before:
                    leaks.append(
                        f"{side.name}: {probe.method} {probe.path} was refused but wrote {_written[before:]}"
                    )
    assert leaks == []


def test_the_write_counter_sees_every_successful_write_and_no_refused_one(client: Client) -> None:
    """What "changed nothing" rests on: a write through PynamoDB or boto3 is counted, a
    conditional write that fails is not."""
    from pynamodb.exceptions import PutError

    from chalicelib.payments.models import Wallet

    before = _writes()
    Wallet("counted", balance_fen=0, status="active", updated_at=now()).save()
    with pytest.raises(PutError):
        Wallet("counted", balance_fen=1, status="active", updated_at=now()).save(
            condition=Wallet.user_id.does_not_exist()
        )
    boto3.client("dynamodb", region_name="us-east-1").delete_item(
        TableName=Wallet.Meta.table_name, Key={"user_id": {"S": "counted"}}
    )
    assert _written[before:] == ["PutItem", "DeleteItem"]
