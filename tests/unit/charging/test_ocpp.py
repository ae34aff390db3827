"""OCPP 1.6J frames: parsing, schema validation with the right CALLERROR codes, builders, meter
values and timestamps, with numbers that never become floats. Topics: tests/unit/platform; the
charger simulator's frames: tests/unit/local."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.charging import ocpp


def frame(*parts: Any) -> bytes:
    return json.dumps(list(parts), ensure_ascii=False).encode()


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list | tuple):
        return all(_no_floats(v) for v in value)
    return True


def _payload(parsed: Any) -> Any:
    return getattr(parsed, "payload", getattr(parsed, "details", None))


VALID_CALLS: dict[str, dict[str, Any]] = {
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.2"},
    "Heartbeat": {},
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Preparing",
        "timestamp": "2026-11-22T10:00:00+08:00",
    },
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
        "meterValue": [{"timestamp": "2026-11-22T02:01:00.123Z", "sampledValue": [{"value": "1234.5"}]}],
    },
    "StopTransaction": {
        "transactionId": 7,
        "meterStop": 2000,
        "timestamp": "2026-11-22T02:05:00Z",
        "reason": "EVDisconnected",
        "transactionData": [
            {
                "timestamp": "2026-11-22T02:05:00Z",
                "sampledValue": [{"value": "2", "unit": "kWh", "context": "Transaction.End"}],
            }
        ],
    },
    "DataTransfer": {"vendorId": "acme", "messageId": "m", "data": "x"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "DiagnosticsStatusNotification": {"status": "Uploaded"},
}

VALID_RESULTS: dict[str, dict[str, Any]] = {
    "RemoteStartTransaction": {"status": "Accepted"},
    "RemoteStopTransaction": {"status": "Rejected"},
    "Reset": {"status": "Accepted"},
    "ChangeAvailability": {"status": "Scheduled"},
    "TriggerMessage": {"status": "NotImplemented"},
}


# --- parsing and validation -----------------------------------------------------------------


@pytest.mark.parametrize("action", sorted(VALID_CALLS))
def test_valid_calls_parse_and_validate(action: str) -> None:
    call = ocpp.parse(frame(2, "m-1", action, VALID_CALLS[action]))
    assert call == ocpp.Call("m-1", action, VALID_CALLS[action])
    assert isinstance(call, ocpp.Call)
    ocpp.validate_call(call)


@pytest.mark.parametrize("action", sorted(VALID_RESULTS))
def test_valid_answers_to_our_calls_parse_and_validate(action: str) -> None:
    result = ocpp.parse(frame(3, "c-1", VALID_RESULTS[action]))
    assert result == ocpp.CallResult("c-1", VALID_RESULTS[action])
    assert isinstance(result, ocpp.CallResult)
    ocpp.validate_result(action, result)


def test_a_callerror_parses() -> None:
    error = ocpp.parse(frame(4, "c-2", "InternalError", "boom", {"why": 1}))
    assert error == ocpp.CallError("c-2", "InternalError", "boom", {"why": 1})


@pytest.mark.parametrize(
    ("raw", "code", "message_id"),
    [
        (b"{not json", "FormationViolation", None),
        (b"\xff\xfe", "FormationViolation", None),
        (b"", "FormationViolation", None),
        (b'{"a": 1}', "FormationViolation", None),
        (b"[]", "FormationViolation", None),
        (b"[2]", "FormationViolation", None),
        (b"[" * 50_000, "FormationViolation", None),
        (b'[2, "m-1", "Heartbeat", {"x": NaN}]', "FormationViolation", None),
        (frame(2, 17, "Heartbeat", {}), "FormationViolation", None),
        (frame(2, "", "Heartbeat", {}), "FormationViolation", None),
        (frame(2, "x" * 37, "Heartbeat", {}), "FormationViolation", None),
        (frame(9, "m-1", "Heartbeat", {}), "ProtocolError", "m-1"),
        (frame("2", "m-1", "Heartbeat", {}), "ProtocolError", "m-1"),
        (b'[2.0, "m-1", "Heartbeat", {}]', "ProtocolError", "m-1"),
        (frame(True, "m-1", {}), "ProtocolError", "m-1"),
        (frame(2, "m-1", "Heartbeat"), "FormationViolation", "m-1"),
        (frame(2, "m-1", "Heartbeat", {}, {}), "FormationViolation", "m-1"),
        (frame(2, "m-1", 5, {}), "FormationViolation", "m-1"),
        (frame(2, "m-1", "Heartbeat", []), "FormationViolation", "m-1"),
        (frame(3, "m-1", "Accepted"), "FormationViolation", "m-1"),
        (frame(4, "m-1", "InternalError", "boom"), "FormationViolation", "m-1"),
        (frame(4, "m-1", "InternalError", 5, {}), "FormationViolation", "m-1"),
    ],
)
def test_malformed_frames_are_refused_with_their_code(raw: bytes, code: str, message_id: str | None) -> None:
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.parse(raw)
    assert (raised.value.code, raised.value.message_id) == (code, message_id)
    assert raised.value.description


@pytest.mark.parametrize(
    ("action", "payload", "code"),
    [
        ("Teleport", {}, "NotImplemented"),
        ("RemoteStartTransaction", {"idTag": "x"}, "NotSupported"),  # ours to send, not theirs
        ("SignCertificate", {"csr": "x"}, "NotSupported"),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError"}, "OccurenceConstraintViolation"),
        ("MeterValues", {"connectorId": 1, "meterValue": []}, "OccurenceConstraintViolation"),
        (
            "StatusNotification",
            {"connectorId": "one", "errorCode": "NoError", "status": "Available"},
            "TypeConstraintViolation",
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "s", "meterStart": 1.5, "timestamp": "2026-11-22T02:00:00Z"},
            "TypeConstraintViolation",
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "s", "meterStart": 0, "timestamp": "2026-11-22T10:00:00"},
            "TypeConstraintViolation",
        ),
        (
            "StartTransaction",
            {"connectorId": 1, "idTag": "s", "meterStart": 0, "timestamp": "yesterday"},
            "TypeConstraintViolation",
        ),
        (
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"},
            "PropertyConstraintViolation",
        ),
        ("Authorize", {"idTag": "x" * 21}, "PropertyConstraintViolation"),
        ("Heartbeat", {"extra": 1}, "FormationViolation"),
    ],
)
def test_schema_violations_carry_the_ocpp_error_code(action: str, payload: dict[str, Any], code: str) -> None:
    call = ocpp.parse(frame(2, "m-9", action, payload))
    assert isinstance(call, ocpp.Call)
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.validate_call(call)
    assert (raised.value.code, raised.value.message_id) == (code, "m-9")
    assert raised.value.code in ocpp.ERROR_CODES


def test_a_naive_timestamp_is_refused_with_a_clear_reason() -> None:
    call = ocpp.Call(
        "m", "StopTransaction", {"transactionId": 1, "meterStop": 1, "timestamp": "2026-11-22 02:00"}
    )
    with pytest.raises(ocpp.FrameError, match="timestamp: a date-time needs a UTC offset"):
        ocpp.validate_call(call)


def test_answers_to_our_calls_are_validated() -> None:
    bad = ocpp.parse(frame(3, "m-3", {"status": "Maybe"}))
    assert isinstance(bad, ocpp.CallResult)
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.validate_result("RemoteStopTransaction", bad)
    assert (raised.value.code, raised.value.message_id) == ("PropertyConstraintViolation", "m-3")
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.validate_result("../../secrets", bad)
    assert raised.value.code == "NotImplemented"


def test_outgoing_calls_are_validated() -> None:
    ocpp.validate_outgoing("ChangeAvailability", {"connectorId": 0, "type": "Inoperative"})
    ocpp.validate_outgoing("RemoteStopTransaction", {"transactionId": 7})
    with pytest.raises(ocpp.FrameError):
        ocpp.validate_outgoing("Reset", {"type": "Hard-ish"})
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.validate_outgoing("BootNotification", {})
    assert raised.value.code == "NotSupported"


def test_schema_numbers_are_decimals_so_multiple_of_is_exact() -> None:
    profile: dict[str, Any] = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": Decimal("21.4")}],
        },
    }
    ocpp.validate_outgoing("RemoteStartTransaction", {"idTag": "s", "chargingProfile": profile})
    profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = Decimal("4.11")
    with pytest.raises(ocpp.FrameError):
        ocpp.validate_outgoing("RemoteStartTransaction", {"idTag": "s", "chargingProfile": profile})


# --- builders -------------------------------------------------------------------------------


def test_builders_write_compact_json_and_decimals_as_numbers() -> None:
    assert ocpp.call_frame("a", "Reset", {"type": "Soft"}) == '[2,"a","Reset",{"type":"Soft"}]'
    assert ocpp.result_frame("b", {"n": Decimal("12")}) == '[3,"b",{"n":12}]'
    assert ocpp.result_frame("b", {"n": Decimal("12.50"), "t": "粤B"}) == '[3,"b",{"n":12.50,"t":"粤B"}]'
    assert ocpp.result_frame("b", {"big": Decimal("0.1000000000000000055511151231257827")}) == (
        '[3,"b",{"big":0.1000000000000000055511151231257827}]'
    )
    assert ocpp.error_frame("c", "NotImplemented", "no") == '[4,"c","NotImplemented","no",{}]'
    assert json.loads(ocpp.error_frame("c", "GenericError", "x" * 300))[3] == "x" * 255
    with pytest.raises(ValueError):
        ocpp.result_frame("d", {"n": Decimal("NaN")})
    with pytest.raises(TypeError):
        ocpp.result_frame("d", {"n": {1, 2}})


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (ocpp.call_frame("m1", "Reset", {"type": "Hard"}), ocpp.Call("m1", "Reset", {"type": "Hard"})),
        (
            ocpp.result_frame("m2", {"currentTime": "2026-11-22T02:00:00Z", "x": Decimal("1.25")}),
            ocpp.CallResult("m2", {"currentTime": "2026-11-22T02:00:00Z", "x": Decimal("1.25")}),
        ),
        (
            ocpp.error_frame("m3", "FormationViolation", "bad", {"at": [1, None, True]}),
            ocpp.CallError("m3", "FormationViolation", "bad", {"at": [1, None, True]}),
        ),
    ],
)
def test_builders_round_trip(built: str, expected: Any) -> None:
    parsed = ocpp.parse(built.encode())
    assert parsed == expected
    assert _no_floats(_payload(parsed))


# --- values ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22T02:00:00Z", datetime(2026, 11, 22, 2, tzinfo=UTC)),
        ("2026-11-22T10:00:00+08:00", datetime(2026, 11, 22, 2, tzinfo=UTC)),
        ("2026-11-22t02:00:00.1234567z", datetime(2026, 11, 22, 2, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-21T21:30:00-0430", datetime(2026, 11, 22, 2, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(text: str, expected: datetime) -> None:
    parsed = ocpp.timestamp(text)
    assert parsed == expected and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "value", ["2026-11-22T02:00:00", "2026-11-22", "2026-13-22T02:00:00Z", "02:00:00Z", "", 1764, None]
)
def test_naive_or_invalid_timestamps_are_refused(value: Any) -> None:
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.timestamp(value)
    assert raised.value.code == "TypeConstraintViolation"


def test_meter_values_become_integer_wh_and_w() -> None:
    samples = ocpp.meter_samples(
        [
            {
                "timestamp": "2026-11-22T10:01:00+08:00",
                "sampledValue": [
                    {"value": "12.3455", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                    {"value": "7.2", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "230", "measurand": "Voltage", "unit": "V"},
                ],
            },
            {"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "12400.5"}]},  # defaults: Wh
            {"timestamp": "2026-11-22T02:03:00Z", "sampledValue": [{"value": "230", "measurand": "Voltage"}]},
            {
                "timestamp": "2026-11-22T02:04:00Z",
                "sampledValue": [
                    {"value": "4100", "phase": "L1"},
                    {"value": "99999", "location": "Inlet"},
                    {"value": "12500.49", "location": "Outlet"},
                    {"value": "abcdef", "format": "SignedData"},
                    {"value": "3300", "measurand": "Power.Active.Import"},
                ],
            },
        ]
    )
    assert samples == [
        ocpp.MeterSample(datetime(2026, 11, 22, 2, 1, tzinfo=UTC), 12346, 7200),  # 12345.5 rounds up
        ocpp.MeterSample(datetime(2026, 11, 22, 2, 2, tzinfo=UTC), 12401, None),
        ocpp.MeterSample(datetime(2026, 11, 22, 2, 4, tzinfo=UTC), 12500, 3300),
    ]
    assert all(type(s.wh) is int for s in samples)
    assert ocpp.energy_samples([]) == []


def test_stop_transaction_data_gives_samples() -> None:
    samples = ocpp.energy_samples(VALID_CALLS["StopTransaction"]["transactionData"])
    assert samples == [(datetime(2026, 11, 22, 2, 5, tzinfo=UTC), 2000, None)]


@pytest.mark.parametrize(
    ("value", "unit", "wh"),
    [("0", "Wh", 0), ("0.5", "Wh", 1), ("1.4999", "Wh", 1), ("1.0005", "kWh", 1001), ("1E+3", "Wh", 1000)],
)
def test_energy_rounds_half_up_from_decimal(value: str, unit: str, wh: int) -> None:
    assert ocpp.energy_wh(value, unit) == wh


@pytest.mark.parametrize(
    ("meter_values", "code"),
    [
        ([{"timestamp": "2026-11-22 02:02", "sampledValue": [{"value": "1"}]}], "TypeConstraintViolation"),
        (
            [{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "-5"}]}],
            "PropertyConstraintViolation",
        ),
        (
            [{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "NaN"}]}],
            "TypeConstraintViolation",
        ),
        (
            [{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "1e999"}]}],
            "PropertyConstraintViolation",
        ),
        (
            [{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "1_000"}]}],
            "TypeConstraintViolation",
        ),
        (
            [{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": [{"value": "5", "unit": "W"}]}],
            "PropertyConstraintViolation",
        ),
        ([{"sampledValue": [{"value": "5"}]}], "OccurenceConstraintViolation"),
        ([{"timestamp": "2026-11-22T02:02:00Z", "sampledValue": "5"}], "TypeConstraintViolation"),
        ("nope", "TypeConstraintViolation"),
    ],
)
def test_bad_meter_values_raise_frame_errors(meter_values: Any, code: str) -> None:
    with pytest.raises(ocpp.FrameError) as raised:
        ocpp.meter_samples(meter_values)
    assert raised.value.code == code


# --- properties -----------------------------------------------------------------------------

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=6), c, max_size=4),
    max_leaves=12,
)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_a_frame_error(raw: bytes) -> None:
    try:
        parsed = ocpp.parse(raw)
    except ocpp.FrameError as exc:
        assert exc.code in ocpp.ERROR_CODES
        return
    assert _no_floats(_payload(parsed))


@given(
    st.one_of(
        st.lists(JSON, max_size=6),
        st.tuples(
            st.sampled_from([2, 3, 4]), st.text(max_size=40), st.sampled_from(sorted(VALID_CALLS)), JSON
        ),
        st.tuples(st.just(3), st.text(min_size=1, max_size=36), JSON),
    )
)
def test_any_json_frame_parses_or_raises_a_frame_error(parts: Any) -> None:
    try:
        parsed = ocpp.parse(json.dumps(list(parts)).encode())
    except ocpp.FrameError as exc:
        assert exc.code in ocpp.ERROR_CODES
        return
    assert _no_floats(_payload(parsed))


@settings(max_examples=300)
@given(
    st.sampled_from(sorted(VALID_CALLS)),
    st.dictionaries(
        st.sampled_from(
            [
                "connectorId",
                "idTag",
                "meterStart",
                "timestamp",
                "status",
                "errorCode",
                "meterValue",
                "transactionId",
                "meterStop",
                "transactionData",
                "vendorId",
                "x",
            ]
        ),
        JSON,
        max_size=6,
    ),
)
def test_validation_accepts_or_raises_a_frame_error(action: str, payload: dict[str, Any]) -> None:
    call = ocpp.parse(json.dumps([2, "m", action, payload]).encode())
    assert isinstance(call, ocpp.Call)
    try:
        ocpp.validate_call(call)
    except ocpp.FrameError as exc:
        assert exc.code in ocpp.ERROR_CODES and exc.message_id == "m"
        return
    if action in ("MeterValues", "StopTransaction"):
        with contextlib.suppress(ocpp.FrameError):  # never another exception
            ocpp.meter_samples(call.payload.get("meterValue", call.payload.get("transactionData", [])))


@given(JSON)
def test_numbers_in_payloads_never_come_back_as_floats(value: Any) -> None:
    call = ocpp.parse(json.dumps([2, "m", "DataTransfer", {"vendorId": "v", "data": value}]).encode())
    assert isinstance(call, ocpp.Call) and _no_floats(call.payload)
    again = ocpp.parse(ocpp.call_frame("m", "DataTransfer", call.payload).encode())
    assert again == call  # Decimals written back digit for digit


@given(st.decimals(allow_nan=False, allow_infinity=False))
def test_decimals_survive_a_round_trip_exactly(number: Decimal) -> None:
    parsed = ocpp.parse(ocpp.result_frame("m", {"n": number}).encode())
    assert isinstance(parsed, ocpp.CallResult)
    back = parsed.payload["n"]
    assert not isinstance(back, float) and back == number
