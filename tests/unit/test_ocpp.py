"""OCPP 1.6J frames: parsing, schema validation with the right CALLERROR codes, builders and
meter values, with numbers that never become floats."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.devices import ocpp


def frame(*parts: Any) -> bytes:
    return json.dumps(list(parts)).encode()


VALID_CALLS = {
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M"},
    "Heartbeat": {},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"},
    "Authorize": {"idTag": "s123"},
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "s123",
        "meterStart": 0,
        "timestamp": "2026-11-22T02:00:00Z",
    },
    "MeterValues": {
        "connectorId": 1,
        "transactionId": 7,
        "meterValue": [{"timestamp": "2026-11-22T02:01:00Z", "sampledValue": [{"value": "1234.5"}]}],
    },
    "StopTransaction": {"transactionId": 7, "meterStop": 2000, "timestamp": "2026-11-22T02:05:00Z"},
}


@pytest.mark.parametrize("action", sorted(VALID_CALLS))
def test_valid_calls_parse_and_validate(action: str) -> None:
    call = ocpp.parse(frame(2, "m-1", action, VALID_CALLS[action]))
    assert isinstance(call, ocpp.Call) and call.action == action
    ocpp.validate_call(call)


@pytest.mark.parametrize(
    ("raw", "code", "message_id"),
    [
        (b"{not json", "FormationViolation", None),
        (b'{"a": 1}', "FormationViolation", None),
        (frame(9, "m-1", "Heartbeat", {}), "ProtocolError", "m-1"),
        (frame(2, "m-1", "Heartbeat"), "FormationViolation", "m-1"),
        (frame(2, 17, "Heartbeat", {}), "FormationViolation", None),
        (frame(2, "m-1", "Heartbeat", []), "FormationViolation", "m-1"),
    ],
)
def test_malformed_frames_are_refused_with_their_code(raw: bytes, code: str, message_id: str | None) -> None:
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.parse(raw)
    assert raised.value.code == code and raised.value.message_id == message_id


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Teleport", {}, "NotImplemented"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}, "OccurenceConstraintViolation"),
        (
            "StatusNotification",
            {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            "TypeConstraintViolation",
        ),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            "PropertyConstraintViolation",
        ),
        ("Authorize", {"idTag": "x" * 21}, "PropertyConstraintViolation"),
    ],
)
def test_schema_violations_carry_the_ocpp_error_code(action: str, payload: dict[str, Any], code: str) -> None:
    call = ocpp.parse(frame(2, "m-9", action, payload))
    assert isinstance(call, ocpp.Call)
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.validate_call(call)
    assert raised.value.code == code and raised.value.message_id == "m-9"


def test_answers_to_our_calls_are_validated() -> None:
    ok = ocpp.parse(frame(3, "m-2", {"status": "Accepted"}))
    assert isinstance(ok, ocpp.CallResult)
    ocpp.validate_result("RemoteStartTransaction", ok)
    bad = ocpp.parse(frame(3, "m-3", {"status": "Maybe"}))
    assert isinstance(bad, ocpp.CallResult)
    with pytest.raises(ocpp.FrameError):
        ocpp.validate_result("RemoteStopTransaction", bad)
    error = ocpp.parse(frame(4, "m-4", "InternalError", "boom", {}))
    assert isinstance(error, ocpp.CallError) and error.code == "InternalError"


def test_builders_round_trip_without_floats() -> None:
    assert json.loads(ocpp.call_frame("a", "Reset", {"type": "Soft"})) == [2, "a", "Reset", {"type": "Soft"}]
    assert ocpp.result_frame("b", {"n": Decimal("12")}) == '[3,"b",{"n":12}]'
    assert ocpp.result_frame("b", {"n": Decimal("12.5")}) == '[3,"b",{"n":"12.5"}]'
    assert json.loads(ocpp.error_frame("c", "NotImplemented", "no")) == [4, "c", "NotImplemented", "no", {}]
    ocpp.validate_outgoing("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    with pytest.raises(ocpp.FrameError):
        ocpp.validate_outgoing("Reset", {"type": "Hard-ish"})


def test_meter_values_become_integer_wh() -> None:
    samples = ocpp.energy_samples(
        [
            {
                "timestamp": "2026-11-22T10:01:00+08:00",
                "sampledValue": [
                    {"value": "12.3456", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                ],
            },
            {"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "12400.5"}]},
            {"timestamp": "2026-11-22T02:03:00Z", "sampledValue": [{"value": "230", "measurand": "Voltage"}]},
        ]
    )
    assert samples == [
        (datetime(2026, 11, 22, 2, 1, tzinfo=UTC), 12346, 7200),
        (datetime(2026, 11, 22, 2, 2, tzinfo=UTC), 12401, None),
    ]
    with pytest.raises(ocpp.FrameError):
        ocpp.energy_samples([{"timestamp": "2026-11-22 02:02", "sampledValue": [{"value": "1"}]}])
    with pytest.raises(ocpp.FrameError):
        ocpp.energy_samples([{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "-5"}]}])


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_floats(v) for v in value)
    return True


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_frame_error(raw: bytes) -> None:
    try:
        parsed = ocpp.parse(raw)
    except ocpp.FrameError as exc:
        assert exc.code
        return
    assert _no_floats(getattr(parsed, "payload", {}))


@given(
    st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
        max_leaves=8,
    )
)
def test_numbers_in_payloads_never_come_back_as_floats(payload: Any) -> None:
    call = ocpp.parse(json.dumps([2, "m", "DataTransfer", {"vendorId": "v", "data": payload}]).encode())
    assert _no_floats(call.payload)  # type: ignore[union-attr]
