"""The charging money defects, each reproduced through the OCPP handler and the HTTP API: an
abnormal session's prepay goes back exactly once, refund requests are recorded and bounded,
stops survive an offline charger, a stop during `starting` cancels cleanly, a rejected start is
never Accepted, and charger clocks cannot make pricing wrong or unbounded."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from chalice.test import Client

from chalicelib.charging import sessions as charging
from chalicelib.charging.models import Charger, ChargingSession, Connector
from chalicelib.ledger.domain import postings as accounts
from chalicelib.platform.models import Device
from tests.integration.charging.test_sessions import start, started, wallet
from tests.integration.ledger.books import assert_books_hold, postings_of
from tests.support.charger import CHARGER, FakeCharger
from tests.support.iot import Recorder
from tests.support.tokens import auth, staff

EBIKE = {
    "kind": "duration",
    "unit_minutes": 60,
    "unit_fen": 100,
    "free_minutes": 5,
    "auto_stop_minutes": 2880,
}


@pytest.fixture
def charger(client: Client, published: Recorder) -> FakeCharger:
    fake = FakeCharger(published)
    fake.boot(datetime.now(UTC))
    return fake


def releases(session_id: str) -> list[str]:
    return [
        p.posting_id for p in postings_of(accounts.session_subject(session_id)) if p.kind != "prepay_hold"
    ]


def force_end(client: Client, session_id: str) -> Any:
    return client.http.post(f"/v1/ops/charging/sessions/{session_id}/force-end", headers=staff())


def test_force_ending_a_rejected_start_does_not_refund_the_prepay_again(
    client: Client, charger: FakeCharger
) -> None:
    """Defect 4: 10000 → 7000 at start → 10000 after the reject → still 10000 after force-end."""
    response = start(client, charger, prepay=3000)
    session_id = response.json_body["session_id"]
    assert wallet() == 20000 - 3000
    [remote] = charger.calls("RemoteStartTransaction")
    charger.reply(remote, {"status": "Rejected"}, datetime.now(UTC))
    assert ChargingSession.get(session_id).state == "abnormal" and wallet() == 20000
    ended = force_end(client, session_id)
    assert ended.status_code == 200 and ended.json_body["state"] == "completed"
    assert wallet() == 20000
    assert force_end(client, session_id).status_code == 409
    assert releases(session_id) == [f"release:{session_id}"]
    assert_books_hold()


def test_force_ending_a_swept_start_does_not_refund_the_prepay_again(
    client: Client, charger: FakeCharger
) -> None:
    session_id = start(client, charger, prepay=3000).json_body["session_id"]
    assert charging.sweep(datetime.now(UTC) + timedelta(minutes=5))["abandoned"] == 1
    assert wallet() == 20000
    assert force_end(client, session_id).status_code == 200
    assert wallet() == 20000 and releases(session_id) == [f"release:{session_id}"]
    assert_books_hold()


def test_refund_requests_are_recorded_and_bounded_counting_those_in_flight(
    client: Client, charger: FakeCharger
) -> None:
    """Defect 5: requests were answered 202 and forgotten; now each is recorded as `requested`,
    and together they never exceed what is refundable."""
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    charger.stop(tx, 130_000, now + timedelta(minutes=4))
    # what is refundable: the prepay minus what went back at settlement (the bill, up to the prepay;
    # a time-of-use peak can make the bill larger than the prepay)
    settled = ChargingSession.get(session_id)
    refundable = int(settled.prepaid_fen) - int(settled.refunded_fen)
    assert refundable > 0 and refundable == min(int(settled.bill["total_fen"]), int(settled.prepaid_fen))
    asked = (refundable * 2) // 3

    def ask(amount: int) -> Any:
        return client.http.post(
            f"/v1/driver/charging/sessions/{session_id}/refunds",
            body=json.dumps({"amount_fen": amount}),
            headers=auth(),
        )

    first = ask(asked)
    assert first.status_code == 202 and first.json_body["status"] == "requested"
    assert first.json_body["refundable_fen"] == refundable - asked
    for _ in range(2):
        again = ask(asked)
        assert again.status_code == 422 and again.json_body["code"] == "amount_too_high"
    assert ask(refundable - asked).status_code == 202
    assert ChargingSession.get(session_id).refund_requested_fen == refundable
    shown = client.http.get(f"/v1/driver/charging/sessions/{session_id}", headers=auth()).json_body
    assert (shown["refund_requested_fen"], shown["refundable_fen"]) == (refundable, 0)
    listed = client.http.get("/v1/ops/charging/refund-requests", headers=staff()).json_body["refund_requests"]
    assert sorted(r["amount_fen"] for r in listed) == sorted([asked, refundable - asked])
    assert {r["status"] for r in listed} == {"requested"}
    other = client.http.get("/v1/ops/charging/refund-requests", headers=staff("other-op", "x")).json_body
    assert other["refund_requests"] == []
    assert_books_hold()


def test_a_stop_asked_while_the_charger_is_offline_is_sent_when_it_is_back(
    client: Client, charger: FakeCharger
) -> None:
    """Defect 6: the stop was lost and the charger kept charging past the prepay."""
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now, prepay=1000)
    charger.meter(tx, 101_000, now + timedelta(minutes=1), now + timedelta(minutes=1))
    Device(CHARGER).update(actions=[Device.online.set(False)])
    stopped = client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
    assert stopped.json_body["state"] == "stopping"
    assert charger.calls("RemoteStopTransaction") == []
    assert ChargingSession.get(session_id).stop_pending is True
    # back online, still charging: the kept stop goes out with its first message
    charger.meter(tx, 102_000, now + timedelta(minutes=3), now + timedelta(minutes=3))
    [remote_stop] = charger.calls("RemoteStopTransaction")
    assert remote_stop[3] == {"transactionId": tx}
    assert not Charger.get(CHARGER).pending_stops
    # it ignores that stop and keeps charging: the guard (watching `stopping`) sends it again
    charger.meter(tx, 140_000, now + timedelta(minutes=5), now + timedelta(minutes=5))
    assert len(charger.calls("RemoteStopTransaction")) == 2
    charger.stop(tx, 140_500, now + timedelta(minutes=6))
    assert ChargingSession.get(session_id).state == "completed"
    assert_books_hold()


def test_a_kept_stop_survives_the_session_being_suspended_meanwhile(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now, prepay=1000)
    Device(CHARGER).update(actions=[Device.online.set(False)])
    client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
    assert charging.sweep(now + timedelta(minutes=6))["suspended"] == 1
    charger.meter(tx, 101_000, now + timedelta(minutes=7), now + timedelta(minutes=7))
    assert ChargingSession.get(session_id).state == "stopping"
    assert len(charger.calls("RemoteStopTransaction")) == 1


def test_a_stop_during_starting_then_the_chargers_reject_cancels_cleanly(
    client: Client, charger: FakeCharger
) -> None:
    """Defect 7: the prepay stayed held and the connector reserved after stop + Rejected."""
    session_id = start(client, charger, prepay=2000).json_body["session_id"]
    stopped = client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
    assert stopped.json_body["state"] == "stopping"
    [remote] = charger.calls("RemoteStartTransaction")
    charger.reply(remote, {"status": "Rejected"}, datetime.now(UTC))
    session = ChargingSession.get(session_id)
    assert session.state == "abnormal" and wallet() == 20000
    assert Connector.get(CHARGER, 1).session_id is None
    assert start(client, charger, prepay=2000).status_code == 201  # the next driver is not connector_busy
    assert_books_hold()


def test_a_stop_during_starting_that_the_charger_never_answers_is_swept(
    client: Client, charger: FakeCharger
) -> None:
    session_id = start(client, charger, prepay=2000).json_body["session_id"]
    client.http.post(f"/v1/driver/charging/sessions/{session_id}/stop", headers=auth())
    assert charging.sweep(datetime.now(UTC) + timedelta(minutes=5))["abandoned"] == 1
    assert wallet() == 20000 and Connector.get(CHARGER, 1).session_id is None


def test_a_start_transaction_crossing_the_reject_is_never_accepted_with_id_0(
    client: Client, charger: FakeCharger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Defect 8: the charger's Rejected is handled while its StartTransaction is in flight."""
    now = datetime.now(UTC)
    session_id = start(client, charger).json_body["session_id"]
    [remote] = charger.calls("RemoteStartTransaction")
    original = Charger.update
    crossed: list[bool] = []

    def counter_then_reject(self: Charger, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if not crossed:
            crossed.append(True)
            charger.reply(remote, {"status": "Rejected"}, now)
        return result

    monkeypatch.setattr(Charger, "update", counter_then_reject)
    answer = charger.call(
        "StartTransaction",
        {"connectorId": 1, "idTag": session_id, "meterStart": 100_000, "timestamp": now.isoformat()},
        now,
    )
    assert crossed
    assert answer[2]["idTagInfo"]["status"] != "Accepted" and answer[2]["transactionId"] == 0
    assert ChargingSession.get(session_id).state == "abnormal" and wallet() == 20000


def ebike(session_id: str) -> None:
    ChargingSession.get(session_id).update(
        actions=[
            ChargingSession.tariff_ref.set({"tariff_id": "bike", "version": 1, "kind": "ebike"}),
            ChargingSession.tariff.set(EBIKE),
        ]
    )


def test_a_reading_stamped_30_days_ahead_is_clamped_and_the_reason_kept(
    client: Client, charger: FakeCharger
) -> None:
    """Defect 9: an e-bike was billed its full 48-hour cap after 10 minutes."""
    now = datetime.now(UTC)
    session_id, tx = started(client, charger, now)
    ebike(session_id)
    ten = now + timedelta(minutes=10)
    charger.meter(tx, 100_050, now + timedelta(days=30), ten)
    session = ChargingSession.get(session_id)
    assert session.cost_fen == 100  # one started hour, not 48
    assert session.reading_notes and "clamped" in session.reading_notes[0]
    stamp = (now + timedelta(days=30)).isoformat()
    charger.call(
        "StopTransaction",
        {"transactionId": tx, "meterStop": 100_060, "timestamp": stamp, "reason": "Local"},
        ten + timedelta(minutes=1),
    )
    assert ChargingSession.get(session_id).bill["total_fen"] == 100
    assert_books_hold()


def test_a_charger_clock_90_seconds_behind_is_not_stopped_at_its_first_reading(
    client: Client, charger: FakeCharger
) -> None:
    now = datetime.now(UTC)
    behind = timedelta(seconds=90)
    response = start(client, charger, prepay=5000)
    session_id = response.json_body["session_id"]
    [remote] = charger.calls("RemoteStartTransaction")
    charger.reply(remote, {"status": "Accepted"}, now)
    answer = charger.call(
        "StartTransaction",
        {
            "connectorId": 1,
            "idTag": session_id,
            "meterStart": 100_000,
            "timestamp": (now - behind).isoformat(),
        },
        now,
    )
    tx = answer[2]["transactionId"]
    assert tx > 0
    for minute in (1, 2, 3):
        server = now + timedelta(minutes=minute)
        charger.meter(tx, 100_000 + 1000 * minute, server - behind, server)
    session = ChargingSession.get(session_id)
    assert session.state == "charging" and charger.calls("RemoteStopTransaction") == []
    assert session.energy_wh == 3000


def test_an_ebike_past_its_limit_is_stopped_even_when_suspended(client: Client, charger: FakeCharger) -> None:
    now = datetime.now(UTC)
    session_id, _ = started(client, charger, now)
    ebike(session_id)
    ChargingSession.get(session_id).update(
        actions=[
            ChargingSession.state.set("suspended"),
            ChargingSession.started_at.set(now - timedelta(hours=49)),
            ChargingSession.last_activity_at.set(now - timedelta(hours=1)),
        ]
    )
    counts = charging.sweep(now)
    assert counts["auto_stop"] == 1
    session = ChargingSession.get(session_id)
    assert session.state == "stopping" and session.end_reason == "auto_stop"


def test_pricing_is_bounded_whatever_the_timestamps(client: Client) -> None:
    """Readings years apart (one preview used to take seconds to hours): refused before any
    pricing, with a clear error (the suite's timeout bounds it; no timing here)."""
    body = {
        "kind": "ev",
        "definition": json.loads(json.dumps(_demo_tariff())),
        "readings": [["2026-11-22T00:00:00Z", 0], ["2126-11-22T00:00:00Z", 10_000]],
    }
    response = client.http.post("/v1/ops/charging-tariffs/preview", body=json.dumps(body), headers=staff())
    assert response.status_code == 400 and response.json_body["code"] == "invalid_preview"


def _demo_tariff() -> dict[str, Any]:
    from infra.local.demo import DEMO_CHARGING_TARIFF

    return dict(DEMO_CHARGING_TARIFF)
