"""The books' invariants as properties over random interleavings of the flows (parking visits,
quotes, payments and their notifications, repeated or late; charge sessions started, rejected,
metered, stopped, swept, force-ended; refunds requested, paid back to the wallet or rejected),
each run on empty tables. After every
run the scheduled check finds nothing: the journal sums to zero, every wallet equals its
postings, no visit keeps more than it owes without an open obligation, no session returns more
than it held, and every payment a provider confirmed is in the journal."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.shared.errors import DomainError

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
DRIVERS = {"粤B12345": "demo-driver", "粤A99999": "demo-driver-2"}
OPS = (
    "enter",
    "exit",
    "quote_and_order",
    "notify",
    "notify_again",
    "charge_start",
    "charger_accepts",
    "charger_rejects",
    "meter",
    "driver_stop",
    "charger_stop",
    "sweep",
    "force_end",
    "refund",
    "refund_pay",
    "refund_reject",
)
steps = st.lists(
    st.tuples(st.sampled_from(OPS), st.integers(0, 7), st.integers(0, 40)), min_size=5, max_size=30
)


class World:
    def __init__(self) -> None:
        from chalicelib.platform import downlink
        from tests.support.charger import FakeCharger
        from tests.support.iot import Recorder

        self.now = T0
        self.published = Recorder()
        downlink.set_publisher(self.published)
        self.charger = FakeCharger(self.published)
        self.charger.boot(self.now)
        self.orders: list[str] = []
        self.notified: list[str] = []
        self.sessions: list[str] = []
        self.transactions: dict[str, int] = {}
        self.energy: dict[int, int] = {}
        self.refunds: list[str] = []
        # Refunds here need no review (the operator's policy), so they can be paid at once.
        from chalicelib.workflows import refunds

        refunds.set_policy("demo-op", {"customer_service_for": [], "finance_for": []}, "test", self.now)

    def step(self, op: str, pick: int, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)
        with contextlib.suppress(DomainError):  # a refusal the flow answers with a 4xx: nothing moves
            getattr(self, op)(pick)

    # --- parking ----------------------------------------------------------------------------

    def _capture(self, direction: str, pick: int) -> None:
        from chalicelib.parking import devices
        from tests.support.iot import capture, iot_event

        device = "demo-entry-cam" if direction == "in" else "demo-exit-cam"
        plate = list(DRIVERS)[pick % 2]
        devices.on_capture(iot_event(device, "capture", capture(device, direction, plate)), self.now)

    def enter(self, pick: int) -> None:
        self._capture("in", pick)

    def exit(self, pick: int) -> None:
        self._capture("out", pick)

    def quote_and_order(self, pick: int) -> None:
        from chalicelib.parking import quotes
        from chalicelib.payments import orders
        from chalicelib.payments.contract import PaymentIn

        plate = list(DRIVERS)[pick % 2]
        quote = quotes.create(DRIVERS[plate], plate, "demo-lot", self.now)
        if int(quote.due_fen):
            asked = PaymentIn(quote_id=quote.quote_id, amount_fen=int(quote.due_fen))
            created = orders.create(DRIVERS[plate], asked, self.now)
            self.orders.append(created.payment.payment_id)

    def _notify(self, payment_id: str) -> None:
        from chalicelib.payments import orders
        from chalicelib.payments.models import Payment
        from chalicelib.payments.sandbox import Notification

        amount = int(Payment.get(payment_id).amount_fen)
        note = Notification(payment_id, f"txn-{payment_id}", amount, "SUCCESS", self.now.isoformat())
        orders.apply_notification(note, self.now)
        self.notified.append(payment_id)

    def notify(self, pick: int) -> None:
        if self.orders:
            self._notify(self.orders[pick % len(self.orders)])

    def notify_again(self, pick: int) -> None:
        if self.notified:
            self._notify(self.notified[pick % len(self.notified)])

    # --- charging ---------------------------------------------------------------------------

    def charge_start(self, pick: int) -> None:
        from chalicelib.charging import sessions
        from chalicelib.charging.contract import StartIn

        user = "demo-driver" if pick % 2 else "demo-driver-2"
        self.charger.call("Heartbeat", {}, self.now)  # online
        self.charger.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}, self.now
        )
        order = StartIn(qr_id="demo-charger-1-1", prepay_fen=500 + 700 * (pick % 4))
        session = sessions.start(user, order, self.now)
        self.sessions.append(session.session_id)

    def _session(self, pick: int) -> str | None:
        return self.sessions[pick % len(self.sessions)] if self.sessions else None

    def charger_accepts(self, pick: int) -> None:
        session_id = self._session(pick)
        if session_id is None:
            return
        for call in self.charger.calls("RemoteStartTransaction"):
            if call[3]["idTag"] == session_id:
                self.charger.reply(call, {"status": "Accepted"}, self.now)
        answer = self.charger.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": session_id, "meterStart": 1000, "timestamp": self.now.isoformat()},
            self.now,
        )
        tx = int(answer[2]["transactionId"])
        if tx:
            self.transactions[session_id] = tx
            self.energy.setdefault(tx, 1000)

    def charger_rejects(self, pick: int) -> None:
        session_id = self._session(pick)
        for call in self.charger.calls("RemoteStartTransaction"):
            if call[3]["idTag"] == session_id:
                self.charger.reply(call, {"status": "Rejected"}, self.now)

    def meter(self, pick: int) -> None:
        session_id = self._session(pick)
        if session_id in self.transactions:
            tx = self.transactions[session_id]
            self.energy[tx] += 500 * (pick + 1)
            self.charger.meter(tx, self.energy[tx], self.now, self.now)

    def driver_stop(self, pick: int) -> None:
        from chalicelib.charging import sessions
        from chalicelib.charging.models import ChargingSession

        session_id = self._session(pick)
        if session_id is not None:
            session = ChargingSession.get(session_id)
            sessions.stop(session.user_id, session_id, self.now)

    def charger_stop(self, pick: int) -> None:
        session_id = self._session(pick)
        if session_id in self.transactions:
            tx = self.transactions[session_id]
            self.charger.stop(tx, self.energy[tx] + 100, self.now)

    def sweep(self, pick: int) -> None:
        from chalicelib.charging import sessions

        sessions.sweep(self.now)

    def force_end(self, pick: int) -> None:
        from chalicelib.charging import sessions

        session_id = self._session(pick)
        if session_id is not None:
            sessions.force_end("demo-op", session_id, self.now)

    def refund(self, pick: int) -> None:
        from chalicelib.charging.models import ChargingSession
        from chalicelib.workflows import refunds

        session_id = self._session(pick)
        if session_id is not None:
            session = ChargingSession.get(session_id)
            opened = refunds.request_for_session(session.user_id, session_id, 50 * (pick + 1), None, self.now)
            self.refunds.append(opened.refund.refund_id)

    def refund_pay(self, pick: int) -> None:
        from chalicelib.workflows import refunds

        if self.refunds:
            refunds.pay(self.refunds[pick % len(self.refunds)], self.now)

    def refund_reject(self, pick: int) -> None:
        from chalicelib.workflows import refunds

        if self.refunds:
            refunds.reject(self.refunds[pick % len(self.refunds)], self.now, "no", "test")


def run(aws_session: Any, plan: list[tuple[str, int, int]]) -> tuple[World, list[Any]]:
    """One example on empty tables (the session's moto) with the demo data."""
    from chalicelib.ledger import checks
    from chalicelib.platform import downlink
    from chalicelib.shared import cache
    from infra.local.demo import seed
    from tests.support.aws import empty_tables

    empty_tables(aws_session)
    cache.reset_all()
    seed(T0 - timedelta(days=20))
    world = World()
    try:
        for op, pick, minutes in plan:
            world.step(op, pick, minutes)
        breaches = checks.run()
        extra = _extra_checks(world)
    finally:
        downlink.set_publisher(None)
        cache.reset_all()
    return world, [*breaches, *extra]


def _extra_checks(world: World) -> list[str]:
    """What the scheduled check cannot see by itself: each provider's money counted once."""
    from chalicelib.ledger import journal
    from chalicelib.ledger.domain.postings import balances, provider_clearing
    from chalicelib.payments.models import Payment

    confirmed = sum(int(Payment.get(p).amount_fen) for p in set(world.notified))
    booked = balances(journal.scan_all()).get(provider_clearing("sandbox"), 0)
    return [] if confirmed == booked else [f"provider took {confirmed}, journal has {booked}"]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
    derandomize=True,
)
@given(plan=steps)
def test_the_books_hold_under_any_interleaving(aws_session: Any, plan: list[tuple[str, int, int]]) -> None:
    _, breaches = run(aws_session, plan)
    assert breaches == []


def test_a_busy_day_keeps_the_books(aws_session: Any) -> None:
    """One fixed, dense interleaving that touches every flow (a regression anchor)."""
    plan = [
        ("enter", 0, 0),
        ("enter", 1, 1),
        ("quote_and_order", 0, 30),
        ("quote_and_order", 0, 1),
        ("notify", 0, 1),
        ("notify", 1, 1),
        ("notify_again", 0, 1),
        ("exit", 0, 1),
        ("quote_and_order", 1, 40),
        ("notify", 2, 60),
        ("exit", 1, 1),
        ("charge_start", 1, 1),
        ("charger_accepts", 0, 0),
        ("meter", 0, 1),
        ("driver_stop", 0, 1),
        ("charger_stop", 0, 1),
        ("refund", 3, 1),
        ("refund", 3, 1),
        ("refund", 0, 1),
        ("refund", 0, 1),
        ("refund_pay", 0, 1),
        ("refund_reject", 1, 1),
        ("refund_pay", 1, 1),
        ("charge_start", 0, 1),
        ("charger_rejects", 1, 0),
        ("force_end", 1, 1),
        ("charge_start", 1, 1),
        ("sweep", 0, 10),
        ("force_end", 2, 1),
    ]
    world, breaches = run(aws_session, plan)
    assert breaches == []
    assert len(world.sessions) == 3 and world.notified
    from chalicelib.workflows.refund_models import Refund

    assert {str(Refund.get(r).status) for r in world.refunds} == {"refunded", "rejected"}
