"""OCPP 1.6J frames as chargers send them over MQTT (docs/ocpp.md). Pure.

Frames are parsed with numbers kept as Decimal (never float) and validated with the OCPP 1.6 JSON
schemas that the `ocpp` package ships (its message layer's validators; its own validate_payload
re-encodes payloads through floats, so it is not used). A frame that cannot be accepted raises
FrameError with the error code a CALLERROR must carry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from jsonschema import Draft4Validator
from ocpp.messages import get_validator

CALL, CALLRESULT, CALLERROR = 2, 3, 4
VERSION = "1.6"
# Requests a charger sends to parkcharge, and the calls parkcharge sends to chargers.
FROM_CHARGER = (
    "BootNotification",
    "Heartbeat",
    "StatusNotification",
    "Authorize",
    "StartTransaction",
    "MeterValues",
    "StopTransaction",
    "DataTransfer",
    "FirmwareStatusNotification",
    "DiagnosticsStatusNotification",
)
TO_CHARGER = (
    "RemoteStartTransaction",
    "RemoteStopTransaction",
    "Reset",
    "ChangeAvailability",
    "TriggerMessage",
)
_CODES = {
    "type": "TypeConstraintViolation",
    "required": "OccurenceConstraintViolation",  # the OCPP 1.6 spelling
}


class FrameError(Exception):
    """A frame to refuse: `code` is the OCPP error code for the CALLERROR."""

    def __init__(self, code: str, description: str, message_id: str | None) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description
        self.message_id = message_id


@dataclass(frozen=True)
class Call:
    message_id: str
    action: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallResult:
    message_id: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class CallError:
    message_id: str
    code: str
    description: str
    details: dict[str, Any]


def parse(raw: bytes) -> Call | CallResult | CallError:
    """One frame; numbers stay Decimal or int."""
    try:
        frame = json.loads(raw.decode("utf-8"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError) as exc:
        raise FrameError("FormationViolation", f"not a JSON frame: {exc}", None) from exc
    if not isinstance(frame, list) or len(frame) < 3:
        raise FrameError("FormationViolation", "a frame is a JSON array [type, id, ...]", None)
    kind, message_id = frame[0], frame[1]
    if not isinstance(message_id, str) or not message_id or len(message_id) > 36:
        raise FrameError("FormationViolation", "the message id must be a string of 1 to 36 characters", None)
    if kind == CALL and len(frame) == 4:
        action, payload = frame[2], frame[3]
        if not isinstance(action, str) or not isinstance(payload, dict):
            raise FrameError("FormationViolation", "a CALL is [2, id, action, {payload}]", message_id)
        return Call(message_id, action, payload)
    if kind == CALLRESULT and len(frame) == 3:
        if not isinstance(frame[2], dict):
            raise FrameError("FormationViolation", "a CALLRESULT is [3, id, {payload}]", message_id)
        return CallResult(message_id, frame[2])
    if kind == CALLERROR and len(frame) == 5:
        code, description, details = frame[2], frame[3], frame[4]
        if not isinstance(code, str) or not isinstance(description, str) or not isinstance(details, dict):
            raise FrameError(
                "FormationViolation", "a CALLERROR is [4, id, code, description, {details}]", message_id
            )
        return CallError(message_id, code, description, details)
    if kind not in (CALL, CALLRESULT, CALLERROR):
        raise FrameError("ProtocolError", f"unknown message type {kind!r}", message_id)
    raise FrameError("FormationViolation", "the frame has the wrong number of elements", message_id)


def _validator(kind: int, action: str) -> Draft4Validator:
    return get_validator(kind, action, VERSION, parse_float=Decimal)


def _check(validator: Draft4Validator, payload: dict[str, Any], message_id: str | None) -> None:
    error = next(iter(sorted(validator.iter_errors(payload), key=lambda e: e.path)), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "payload"
        code = _CODES.get(str(error.validator), "PropertyConstraintViolation")
        raise FrameError(code, f"{where}: {error.message}", message_id)


def validate_call(call: Call) -> None:
    """A charger's request against its OCPP 1.6 schema."""
    if call.action not in FROM_CHARGER:
        raise FrameError("NotImplemented", f"action {call.action} is not supported", call.message_id)
    _check(_validator(CALL, call.action), call.payload, call.message_id)


def validate_result(action: str, result: CallResult) -> None:
    """A charger's answer to one of parkcharge's calls."""
    _check(_validator(CALLRESULT, action), result.payload, result.message_id)


def validate_outgoing(action: str, payload: dict[str, Any]) -> None:
    """A call parkcharge is about to send (staff commands)."""
    if action not in TO_CHARGER:
        raise FrameError("NotSupported", f"action {action} is not sent to chargers", None)
    _check(_validator(CALL, action), payload, None)


def _dump(frame: list[Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"), default=_decimal)


def _decimal(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else str(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def call_frame(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return _dump([CALL, message_id, action, payload])


def result_frame(message_id: str, payload: dict[str, Any]) -> str:
    return _dump([CALLRESULT, message_id, payload])


def error_frame(message_id: str, code: str, description: str, details: dict[str, Any] | None = None) -> str:
    return _dump([CALLERROR, message_id, code, description[:255], details or {}])


def timestamp(value: Any) -> datetime:
    """An OCPP dateTime as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError as exc:
        raise FrameError("TypeConstraintViolation", f"not a date-time: {value!r}", None) from exc
    if parsed.tzinfo is None:
        raise FrameError("PropertyConstraintViolation", f"a date-time needs a UTC offset: {value!r}", None)
    return parsed.astimezone(UTC)


def _wh(value: Any, unit: str) -> int:
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise FrameError(
            "TypeConstraintViolation", f"a meter value must be a number: {value!r}", None
        ) from exc
    if unit == "kWh":
        number *= 1000
    if number < 0 or not number.is_finite():
        raise FrameError("PropertyConstraintViolation", f"a meter value cannot be {value!r}", None)
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def energy_samples(meter_values: list[dict[str, Any]]) -> list[tuple[datetime, int, int | None]]:
    """(time, cumulative Wh, power W or None) from MeterValues.meterValue or transactionData.
    Energy is `Energy.Active.Import.Register` (the default measurand) in Wh or kWh."""
    samples = []
    for meter_value in meter_values:
        at = timestamp(meter_value["timestamp"])
        energy: int | None = None
        power: int | None = None
        for sampled in meter_value.get("sampledValue", []):
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit = sampled.get("unit", "Wh")
            if measurand == "Energy.Active.Import.Register" and sampled.get("phase") is None:
                energy = _wh(sampled["value"], unit)
            elif measurand == "Power.Active.Import" and sampled.get("phase") is None:
                watts = _wh(sampled["value"], "kWh" if unit == "kW" else "Wh")
                power = watts
        if energy is not None:
            samples.append((at, energy, power))
    return samples
