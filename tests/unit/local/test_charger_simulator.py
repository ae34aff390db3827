"""The charger simulator's frames (no broker): what it sends is valid OCPP 1.6J, what it answers to
the central system's calls validates, and its malformed frames get the code it expects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.charging import ocpp
from infra.local import charger_simulator as sim

AT = datetime(2026, 11, 22, 10, 0, tzinfo=timezone(timedelta(hours=8)))


@pytest.mark.parametrize(
    ("action", "payload"),
    [
        ("BootNotification", sim.boot_payload()),
        ("Heartbeat", {}),
        *[
            ("StatusNotification", sim.status_payload(1, s, at=AT))
            for s in ("Available", "Preparing", "Charging", "Finishing")
        ],
        ("Authorize", {"idTag": "s-1"}),
        ("StartTransaction", sim.start_payload(1, "s-1", 100_000, AT)),
        ("MeterValues", sim.meter_values_payload(1, 7, 100_250, power_w=7200, at=AT)),
        ("MeterValues", sim.meter_values_payload(1, None, 100_250)),
        (
            "StopTransaction",
            sim.stop_payload(7, 101_000, "EVDisconnected", AT, "s-1", [sim.meter_value(101_000, AT)]),
        ),
        ("StopTransaction", sim.stop_payload(7, 101_000, "Local")),
    ],
)
def test_the_simulators_calls_are_valid_ocpp(action: str, payload: dict[str, Any]) -> None:
    call = ocpp.parse(sim.call("m-1", action, payload))
    assert isinstance(call, ocpp.Call) and call.action == action
    ocpp.validate_call(call)


def test_the_simulators_meter_values_read_back_in_wh() -> None:
    payload = sim.meter_values_payload(1, 7, 100_250, power_w=7200, at=AT)
    assert payload["meterValue"][0]["sampledValue"][0]["value"] == "100250"
    assert ocpp.meter_samples(payload["meterValue"]) == [
        ocpp.MeterSample(datetime(2026, 11, 22, 2, tzinfo=UTC), 100_250, 7200)
    ]
    in_kwh = sim.meter_value(100_250, AT, unit="kWh")
    assert in_kwh["sampledValue"][0]["value"] == "100.25"
    assert ocpp.meter_samples([in_kwh])[0].wh == 100_250
    assert sim.now_iso(AT) == "2026-11-22T02:00:00.000Z"


@pytest.mark.parametrize("kind", sorted(sim.MALFORMED))
def test_the_simulators_malformed_frames_get_the_code_it_expects(kind: str) -> None:
    build, code = sim.MALFORMED[kind]
    with pytest.raises(ocpp.FrameError) as raised:
        parsed = ocpp.parse(build("bad-1"))
        assert isinstance(parsed, ocpp.Call)
        ocpp.validate_call(parsed)
    assert raised.value.code == code


def _charger() -> sim.Charger:
    return sim.Charger("sim-1", connectors=2)  # not connected: reply() needs no broker


def test_the_simulator_answers_the_central_systems_calls_validly() -> None:
    charger = _charger()
    charger.transactions[7] = 1
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("RemoteStartTransaction", {"idTag": "s-2", "connectorId": 2}, "Accepted"),
        ("RemoteStartTransaction", {"idTag": "s-2", "connectorId": 1}, "Rejected"),  # busy
        ("RemoteStartTransaction", {"idTag": "s-2", "connectorId": 3}, "Rejected"),  # no such connector
        ("RemoteStopTransaction", {"transactionId": 7}, "Accepted"),
        ("RemoteStopTransaction", {"transactionId": 8}, "Rejected"),
        ("Reset", {"type": "Soft"}, "Accepted"),
        ("ChangeAvailability", {"connectorId": 2, "type": "Inoperative"}, "Accepted"),
        ("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}, "Scheduled"),
        ("TriggerMessage", {"requestedMessage": "Heartbeat"}, "Accepted"),
    ]
    for action, payload, status in cases:
        ocpp.validate_outgoing(action, payload)  # what parkcharge would send
        ok, body = charger.reply(action, payload)
        assert ok and isinstance(body, dict) and body["status"] == status, (action, payload)
        answer = ocpp.parse(sim.call_result("c-1", body))
        assert isinstance(answer, ocpp.CallResult)
        ocpp.validate_result(action, answer)
    assert charger.reply("UnlockConnector", {"connectorId": 1}) == (False, "NotSupported")
    error = ocpp.parse(sim.call_error("c-2", "NotSupported", "UnlockConnector is not supported"))
    assert error == ocpp.CallError("c-2", "NotSupported", "UnlockConnector is not supported", {})
