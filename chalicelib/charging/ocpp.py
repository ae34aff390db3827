"""OCPP 1.6J frames as chargers send them over MQTT (docs/ocpp.md). Pure: no I/O besides reading
the OCPP 1.6 JSON schemas bundled with the `ocpp` package, once per action.

Numbers never become floats. Frames are parsed with `parse_float=Decimal` (and NaN / Infinity
refused), and payloads are validated with jsonschema directly against the bundled schemas, which
are themselves loaded with `parse_float=Decimal`. The package's own `unpack` parses numbers as
floats, and its `validate_payload` round-trips some payloads through `json.dumps` with an encoder
that turns Decimals into floats of one decimal place, so neither is used; its schemas and the
error codes of its exceptions are. The builders write Decimals as JSON numbers digit for digit.

A frame that cannot be accepted raises FrameError with the error code its CALLERROR must carry.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # jsonschema is imported on first validation: it costs the cold start ~70 ms
    from jsonschema import Draft4Validator
    from jsonschema.exceptions import ValidationError

CALL, CALLRESULT, CALLERROR = 2, 3, 4
VERSION = "1.6"
MAX_MESSAGE_ID = 36  # OCPP-J 1.6: the unique id is at most 36 characters

# OCPP 1.6J error codes (CALLERROR errorCode), as the `ocpp` package's exceptions spell them.
# OCPP 1.6 spells "Occurence" with one r and "FormationViolation"; 2.x renamed both.
# Written out so importing this module stays cheap; a unit test checks them against the package's.
NOT_IMPLEMENTED = "NotImplemented"
NOT_SUPPORTED = "NotSupported"
INTERNAL_ERROR = "InternalError"
PROTOCOL_ERROR = "ProtocolError"
SECURITY_ERROR = "SecurityError"
FORMATION_VIOLATION = "FormationViolation"
PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
GENERIC_ERROR = "GenericError"
ERROR_CODES = (
    NOT_IMPLEMENTED,
    NOT_SUPPORTED,
    INTERNAL_ERROR,
    PROTOCOL_ERROR,
    SECURITY_ERROR,
    FORMATION_VIOLATION,
    PROPERTY_CONSTRAINT_VIOLATION,
    OCCURENCE_CONSTRAINT_VIOLATION,
    TYPE_CONSTRAINT_VIOLATION,
    GENERIC_ERROR,
)

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

# Which OCPP code a failed JSON-schema keyword maps to (anything else: PropertyConstraintViolation,
# i.e. an enumeration, a length or a bound).
_CODES = {
    "type": TYPE_CONSTRAINT_VIOLATION,
    "format": TYPE_CONSTRAINT_VIOLATION,  # dateTime is an OCPP data type
    "required": OCCURENCE_CONSTRAINT_VIOLATION,
    "minItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "maxItems": OCCURENCE_CONSTRAINT_VIOLATION,
    "additionalProperties": FORMATION_VIOLATION,  # a field the PDU does not have
}
# When a payload breaks several rules, the CALLERROR names the first of these.
_PRIORITY = ("additionalProperties", "required", "minItems", "maxItems", "type", "format")

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
_NUMBER = re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?")
_MAX_WH = 10**15  # a sanity bound on a cumulative register (a petawatt-hour)
_DATE_TIME = re.compile(r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:?\d{2})")


class FrameError(Exception):
    """A frame to refuse: `code` is the OCPP error code for the CALLERROR, `description` the
    reason, `message_id` the frame's id when it could be read (else None)."""

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


Frame = Call | CallResult | CallError


class MeterSample(NamedTuple):
    """One meterValue: when, the cumulative active import energy in Wh, the power in W if sent."""

    at: datetime
    wh: int
    power_w: int | None


# --- parsing ---------------------------------------------------------------------------------


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads(raw: bytes | str) -> Any:
    """JSON with every non-integer number as Decimal; NaN and Infinity are refused (ValueError)."""
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    return json.loads(text, parse_float=Decimal, parse_constant=_constant)


def _message_id(frame: list[Any]) -> str | None:
    if len(frame) < 2:
        return None
    value = frame[1]
    if isinstance(value, str) and 0 < len(value) <= MAX_MESSAGE_ID:
        return value
    return None


def parse(raw: bytes) -> Call | CallResult | CallError:
    """One frame: `[2, id, action, {payload}]`, `[3, id, {payload}]` or
    `[4, id, code, description, {details}]`. Numbers stay int or Decimal. The payload is not
    validated here (see validate_call / validate_result)."""
    try:
        frame = loads(raw)
    except UnicodeDecodeError as exc:
        raise FrameError(FORMATION_VIOLATION, "the frame is not UTF-8", None) from exc
    except ValueError as exc:
        raise FrameError(FORMATION_VIOLATION, f"the frame is not JSON: {exc}", None) from exc
    except RecursionError as exc:
        raise FrameError(FORMATION_VIOLATION, "the frame is nested too deeply", None) from exc
    if not isinstance(frame, list) or not frame:
        raise FrameError(FORMATION_VIOLATION, "a frame is a JSON array [type, id, ...]", None)
    kind = frame[0]
    message_id = _message_id(frame)
    if message_id is None:
        raise FrameError(
            FORMATION_VIOLATION,
            f"the message id must be a string of 1 to {MAX_MESSAGE_ID} characters",
            None,
        )
    if type(kind) is not int or kind not in (CALL, CALLRESULT, CALLERROR):
        raise FrameError(PROTOCOL_ERROR, f"unknown message type {kind!r}", message_id)
    if kind == CALL:
        if len(frame) != 4 or not isinstance(frame[2], str) or not isinstance(frame[3], dict):
            raise FrameError(FORMATION_VIOLATION, "a CALL is [2, id, action, {payload}]", message_id)
        return Call(message_id, frame[2], frame[3])
    if kind == CALLRESULT:
        if len(frame) != 3 or not isinstance(frame[2], dict):
            raise FrameError(FORMATION_VIOLATION, "a CALLRESULT is [3, id, {payload}]", message_id)
        return CallResult(message_id, frame[2])
    if (
        len(frame) != 5
        or not isinstance(frame[2], str)
        or not isinstance(frame[3], str)
        or not isinstance(frame[4], dict)
    ):
        raise FrameError(
            FORMATION_VIOLATION, "a CALLERROR is [4, id, code, description, {details}]", message_id
        )
    return CallError(message_id, frame[2], frame[3], frame[4])


# --- validation ------------------------------------------------------------------------------


def _schemas() -> Any:
    return resources.files("ocpp") / "v16" / "schemas"


@cache
def known_actions() -> frozenset[str]:
    """Every OCPP 1.6 action the bundled schemas describe (including the security extension)."""
    return frozenset(
        entry.name.removesuffix(".json")
        for entry in _schemas().iterdir()
        if entry.name.endswith(".json") and not entry.name.endswith("Response.json")
    )


def _date_time_format(value: object) -> bool:
    if isinstance(value, str):
        timestamp(value)  # raises FrameError with the reason
    return True


@cache
def _validator(kind: int, action: str) -> Draft4Validator:
    """The bundled schema of a request (CALL) or its response (CALLRESULT), numbers as Decimal.
    Only for names in known_actions(), so the name never reaches the file system unchecked."""
    from jsonschema import Draft4Validator, FormatChecker

    formats = FormatChecker(formats=())
    formats.checks("date-time", raises=FrameError)(_date_time_format)
    name = action + ("Response" if kind == CALLRESULT else "")
    schema = json.loads((_schemas() / f"{name}.json").read_text(encoding="utf-8-sig"), parse_float=Decimal)
    return Draft4Validator(schema, format_checker=formats)


def _describe(error: ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "payload"
    if error.validator == "format" and isinstance(error.cause, FrameError):
        return f"{where}: {error.cause.description}"
    return f"{where}: {error.message}"


def _check(validator: Draft4Validator, payload: dict[str, Any], message_id: str | None) -> None:
    errors = list(validator.iter_errors(payload))
    if not errors:
        return

    def rank(error: ValidationError) -> tuple[int, list[str]]:
        keyword = str(error.validator)
        order = _PRIORITY.index(keyword) if keyword in _PRIORITY else len(_PRIORITY)
        return order, [str(p) for p in error.absolute_path]

    error = min(errors, key=rank)
    code = _CODES.get(str(error.validator), PROPERTY_CONSTRAINT_VIOLATION)
    raise FrameError(code, _describe(error), message_id)


def validate_call(call: Call) -> None:
    """A charger's request against the OCPP 1.6 schema of its action. An action OCPP 1.6 does
    not have is NotImplemented; one it has but a charger does not send to a central system (or
    parkcharge does not take) is NotSupported."""
    if call.action not in FROM_CHARGER:
        if call.action in known_actions():
            raise FrameError(NOT_SUPPORTED, f"action {call.action} is not supported", call.message_id)
        raise FrameError(NOT_IMPLEMENTED, f"unknown action {call.action[:50]!r}", call.message_id)
    _check(_validator(CALL, call.action), call.payload, call.message_id)


def validate_result(action: str, result: CallResult) -> None:
    """A charger's answer to one of parkcharge's calls (`action` is the call's action)."""
    if action not in known_actions():
        raise FrameError(NOT_IMPLEMENTED, f"unknown action {action[:50]!r}", result.message_id)
    _check(_validator(CALLRESULT, action), result.payload, result.message_id)


def validate_outgoing(action: str, payload: dict[str, Any]) -> None:
    """A call parkcharge is about to send (e.g. a staff command). The payload should carry
    numbers as int or Decimal (the schemas' multipleOf cannot be checked on a float)."""
    if action not in TO_CHARGER:
        raise FrameError(NOT_SUPPORTED, f"action {action} is not sent to chargers", None)
    try:
        _check(_validator(CALL, action), payload, None)
    except TypeError as exc:  # a float against a Decimal multipleOf
        raise FrameError(TYPE_CONSTRAINT_VIOLATION, f"payload: {exc}", None) from exc


# --- builders --------------------------------------------------------------------------------


def _encode(value: Any, out: list[str]) -> None:
    if value is None or isinstance(value, bool | str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif isinstance(value, int):
        out.append(int.__repr__(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        out.append(str(value))  # digit for digit, e.g. 12.50 or 1.2E+3: valid JSON numbers
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))  # the caller's float, written as is
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if not isinstance(key, str):
                raise TypeError(f"an object key must be a string, not {type(key).__name__}")
            out.append(("," if i else "") + json.dumps(key, ensure_ascii=False) + ":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(value).__name__} is not JSON")


def dumps(value: Any) -> str:
    """Compact JSON, UTF-8 text as is (ensure_ascii=False), Decimals as JSON numbers."""
    out: list[str] = []
    _encode(value, out)
    return "".join(out)


def call_frame(message_id: str, action: str, payload: dict[str, Any]) -> str:
    return dumps([CALL, message_id, action, payload])


def result_frame(message_id: str, payload: dict[str, Any]) -> str:
    return dumps([CALLRESULT, message_id, payload])


def error_frame(message_id: str, code: str, description: str, details: dict[str, Any] | None = None) -> str:
    """A CALLERROR; the description is cut to 255 characters. Use message id "-1" when the
    refused frame's id could not be read."""
    return dumps([CALLERROR, message_id, code, description[:255], details or {}])


# --- values ----------------------------------------------------------------------------------


def timestamp(value: Any) -> datetime:
    """An OCPP dateTime (RFC 3339: `2026-11-22T02:00:00Z`, `...T10:00:00.123+08:00`) as an aware
    UTC datetime. A naive or malformed one raises FrameError(TypeConstraintViolation)."""
    text = value if isinstance(value, str) else None
    match = _DATE_TIME.fullmatch(text) if text is not None and len(text) <= 64 else None
    if match is None:
        if text is not None and re.fullmatch(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?", text):
            raise FrameError(
                TYPE_CONSTRAINT_VIOLATION, f"a date-time needs a UTC offset or Z: {value!r}", None
            )
        raise FrameError(TYPE_CONSTRAINT_VIOLATION, f"not an RFC 3339 date-time: {str(value)[:40]!r}", None)
    date, time, fraction, offset = match.groups()
    fraction = (fraction or "")[:7]  # microseconds at most
    offset = "+00:00" if offset in ("Z", "z") else offset
    try:
        parsed = datetime.fromisoformat(f"{date}T{time}{fraction}{offset}")
    except ValueError as exc:
        raise FrameError(TYPE_CONSTRAINT_VIOLATION, f"not a valid date-time: {value!r}", None) from exc
    return parsed.astimezone(UTC)


def _number(value: Any, what: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, str) and len(value) <= 40 and _NUMBER.fullmatch(value.strip()):
        return Decimal(value.strip())
    raise FrameError(TYPE_CONSTRAINT_VIOLATION, f"{what} must be a decimal number: {str(value)[:40]!r}", None)


def _rounded(number: Decimal, what: str) -> int:
    if number < 0 or number > _MAX_WH:
        raise FrameError(PROPERTY_CONSTRAINT_VIOLATION, f"{what} out of range: {number}", None)
    return int(number.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def energy_wh(value: Any, unit: str | None = "Wh") -> int:
    """An energy register value ("12345.6", in Wh or kWh) as whole Wh, rounded half up."""
    number = _number(value, "an energy value")
    if unit in (None, "Wh"):
        return _rounded(number, "an energy value")
    if unit == "kWh":
        return _rounded(number * 1000, "an energy value")
    raise FrameError(PROPERTY_CONSTRAINT_VIOLATION, f"an energy value cannot be in {unit}", None)


def power_w(value: Any, unit: str | None = "W") -> int:
    """A power value (in W or kW) as whole W, rounded half up."""
    number = _number(value, "a power value")
    if unit in (None, "W"):
        return _rounded(number, "a power value")
    if unit == "kW":
        return _rounded(number * 1000, "a power value")
    raise FrameError(PROPERTY_CONSTRAINT_VIOLATION, f"a power value cannot be in {unit}", None)


def _objects(value: Any, what: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise FrameError(TYPE_CONSTRAINT_VIOLATION, f"{what} must be a list of objects", None)
    return value


def meter_samples(meter_values: Any) -> list[MeterSample]:
    """MeterValues.meterValue or StopTransaction.transactionData as samples, in the order sent.

    Energy is `Energy.Active.Import.Register` (the default measurand; Wh by default, or kWh),
    power `Power.Active.Import` (W or kW). Per-phase values, signed data and other measurands are
    skipped; when a meterValue has several totals, the one at the outlet (or with no location)
    wins. A meterValue without an energy total yields no sample."""
    samples = []
    for meter_value in _objects(meter_values, "meterValue"):
        if "timestamp" not in meter_value:
            raise FrameError(OCCURENCE_CONSTRAINT_VIOLATION, "meterValue.timestamp is required", None)
        at = timestamp(meter_value["timestamp"])
        energy: dict[str | None, int] = {}
        power: dict[str | None, int] = {}
        for sampled in _objects(meter_value.get("sampledValue", []), "sampledValue"):
            if sampled.get("phase") is not None or sampled.get("format") == "SignedData":
                continue
            measurand = sampled.get("measurand", ENERGY)
            location = sampled.get("location")
            if measurand == ENERGY:
                energy.setdefault(location, energy_wh(sampled.get("value"), sampled.get("unit")))
            elif measurand == POWER:
                power.setdefault(location, power_w(sampled.get("value"), sampled.get("unit")))
        wh = _preferred(energy)
        if wh is not None:
            samples.append(MeterSample(at, wh, _preferred(power)))
    return samples


def _preferred(values: dict[str | None, int]) -> int | None:
    for location in (None, "Outlet", "Inlet", "EV", "Body", "Cable"):
        if location in values:
            return values[location]
    return next(iter(values.values()), None)


def energy_samples(meter_values: Any) -> list[tuple[datetime, int, int | None]]:
    """meter_samples as plain (time, cumulative Wh, power W or None) tuples."""
    return list(meter_samples(meter_values))
