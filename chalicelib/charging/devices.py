"""OCPP 1.6J frames from chargers, as the IoT rule delivers them (docs/ocpp.md).

Every frame is validated against the OCPP 1.6 schemas; a malformed or unknown one gets a
CALLERROR on the charger's down topic and a dead letter, and the next frame is processed as
usual. Requests are de-duplicated by (charger, message id): a repeated frame gets the answer
the first one got, so a resent StartTransaction returns the same transaction id.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.charging import ocpp, ocpp_calls, sessions
from chalicelib.charging.models import Charger, ChargingSession, Connector
from chalicelib.platform import commands, dead_letters, inbox, registry, topics
from chalicelib.platform.downlink import get_publisher
from chalicelib.platform.envelope import Envelope, InvalidMessage, envelope
from chalicelib.shared.db import get_or_none
from chalicelib.shared.timeutil import iso

HEARTBEAT_SECONDS = 60


def _reply(charger_id: str, frame: str) -> None:
    get_publisher().publish(topics.charger_down(charger_id), frame)


def _refuse(
    charger_id: str | None, raw: bytes, topic: str | None, error: ocpp.FrameError, now: datetime
) -> dict[str, Any]:
    dead_letters.store(
        "charger/ocpp", f"{error.code}: {error.description}", raw, now, topic=topic, device_id=charger_id
    )
    if charger_id:
        _reply(charger_id, ocpp.error_frame(error.message_id or "-1", error.code, error.description))
    return {"result": "rejected", "code": error.code, "reason": error.description}


def on_frame(event: Any, now: datetime) -> dict[str, Any]:
    try:
        env = envelope(event)
    except InvalidMessage as exc:
        dead_letters.store("charger/ocpp", str(exc), json.dumps(event, default=str), now)
        return {"result": "rejected", "reason": str(exc)}
    charger_id = env.topic_device_id
    charger = get_or_none(Charger, charger_id)
    if charger is None:
        error = ocpp.FrameError("SecurityError", f"unknown charger {charger_id}", None)
        return _refuse(charger_id, env.raw, env.topic, error, now)
    try:
        frame = ocpp.parse(env.raw)
    except ocpp.FrameError as error:
        _seen(charger, now)
        return _refuse(charger_id, env.raw, env.topic, error, now)
    _seen(charger, now)
    result = (
        _on_call(charger, frame, env, now)
        if isinstance(frame, ocpp.Call)
        else _on_answer(charger, frame, env, now)
    )
    if charger.pending_stops:
        sessions.send_pending_stops(charger, now)  # heard again: the stops asked while offline
    return result


def _seen(charger: Charger, now: datetime) -> None:
    registry.seen(charger.charger_id, now)


def _on_call(charger: Charger, call: ocpp.Call, env: Envelope, now: datetime) -> dict[str, Any]:
    inbox_id = f"ocpp:{call.message_id}"
    seen = inbox.seen(charger.charger_id, inbox_id)
    if seen is not None:
        _reply(charger.charger_id, seen)  # the same answer as the first time
        return {"result": "duplicate", "action": call.action}
    try:
        ocpp.validate_call(call)
        payload = HANDLERS.get(call.action, _not_supported)(charger, call.payload, now)
    except ocpp.FrameError as error:
        error = ocpp.FrameError(error.code, error.description, error.message_id or call.message_id)
        return _refuse(charger.charger_id, env.raw, env.topic, error, now)
    frame = inbox.remember(
        charger.charger_id, inbox_id, f"ocpp:{call.action}", ocpp.result_frame(call.message_id, payload), now
    )  # a concurrent copy that answered first wins
    _reply(charger.charger_id, frame)
    if call.action == "BootNotification":  # a (re)started charger: what it missed is sent again
        commands.resend_pending(charger.charger_id, now)
    return {"result": "answered", "action": call.action}


def _on_answer(charger: Charger, frame: Any, env: Envelope, now: datetime) -> dict[str, Any]:
    command = commands.get(charger.charger_id, frame.message_id)
    if command is None:
        return {"result": "ignored", "reason": "no call with this message id"}
    action = str(command.body.get("action", command.command))
    if isinstance(frame, ocpp.CallError):
        ok, detail = False, f"{frame.code}: {frame.description}"
    else:
        try:
            ocpp.validate_result(action, frame)
        except ocpp.FrameError as error:
            dead_letters.store(
                "charger/ocpp",
                f"{error.code}: {error.description}",
                env.raw,
                now,
                topic=env.topic,
                device_id=charger.charger_id,
            )
            ok, detail = False, f"invalid answer: {error.description}"
        else:
            status = str(frame.payload.get("status", "Accepted"))
            ok, detail = status == "Accepted", status
    if not ocpp_calls.answered(charger.charger_id, frame.message_id, ok, detail, now):
        return {"result": "ignored", "reason": "already answered"}
    if action == "RemoteStartTransaction":
        sessions.on_remote_start_answer(command.body.get("session_id"), ok, now)
    return {"result": "recorded", "action": action, "ok": ok}


# --- requests from chargers ---------------------------------------------------------------


def _boot(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    fields = (
        (Charger.vendor, payload.get("chargePointVendor")),
        (Charger.model, payload.get("chargePointModel")),
        (Charger.serial, payload.get("chargePointSerialNumber")),
        (Charger.firmware_main, payload.get("firmwareVersion")),
    )
    actions: list[Any] = [attr.set(str(value)[:50]) for attr, value in fields if value]
    charger.update(actions=[*actions, Charger.booted_at.set(now)])
    return {"status": "Accepted", "currentTime": iso(now), "interval": HEARTBEAT_SECONDS}


def _heartbeat(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"currentTime": iso(now)}


def _status(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    connector_id = int(payload["connectorId"])
    if connector_id == 0:
        return {}  # the charger as a whole
    try:
        Connector(charger.charger_id, connector_id).update(
            actions=[
                Connector.status.set(str(payload["status"])),
                Connector.error_code.set(str(payload.get("errorCode", "NoError"))),
                Connector.status_at.set(now),
            ],
            condition=Connector.charger_id.exists(),
        )
    except UpdateError as exc:
        raise ocpp.FrameError(
            "PropertyConstraintViolation", f"connector {connector_id} is not registered", None
        ) from exc
    return {}


def _authorize(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    session = get_or_none(ChargingSession, str(payload["idTag"]))
    if session is None:
        return {"idTagInfo": {"status": "Invalid"}}
    ok = session.charger_id == charger.charger_id and session.state in ("starting", "charging")
    return {"idTagInfo": {"status": "Accepted" if ok else "Invalid"}}


def _start(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return sessions.on_start_transaction(charger, payload, now)


def _meter_values(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    samples = ocpp.energy_samples(payload.get("meterValue", []))
    transaction = payload.get("transactionId")
    sessions.on_meter_values(charger, int(transaction) if transaction is not None else None, samples, now)
    return {}


def _stop(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    stopped_at = ocpp.timestamp(payload["timestamp"])
    samples = ocpp.energy_samples(payload.get("transactionData", []))
    accepted = sessions.on_stop_transaction(
        charger,
        int(payload["transactionId"]),
        stopped_at,
        int(payload["meterStop"]),
        samples,
        str(payload.get("reason", "Local")),
        now,
    )
    if not accepted:
        raise ocpp.FrameError(
            "PropertyConstraintViolation", "the stop is before the transaction's start", None
        )
    return {"idTagInfo": {"status": "Accepted"}}


def _not_supported(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {}


def _data_transfer(charger: Charger, payload: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"status": "UnknownVendorId"}


HANDLERS = {
    "BootNotification": _boot,
    "Heartbeat": _heartbeat,
    "StatusNotification": _status,
    "Authorize": _authorize,
    "StartTransaction": _start,
    "MeterValues": _meter_values,
    "StopTransaction": _stop,
    "DataTransfer": _data_transfer,
}
