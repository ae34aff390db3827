"""Entry points for device messages delivered by IoT rules (and by the local rules bridge with
the same event shape). Parse, hand to a service, and refuse what cannot be processed: a refused
message gets a rejection on the device's error topic and a dead letter with the reason; the
handler itself keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.devices import schemas
from chalicelib.devices.schemas import Envelope, InvalidMessage
from chalicelib.services import commands, dead_letters


def _message_id(raw: bytes) -> str | None:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    value = data.get("message_id") if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _refuse(kind: str, event: Any, env: Envelope | None, reason: str, now: datetime) -> dict[str, Any]:
    raw = env.raw if env else json.dumps(event, default=str).encode()
    device_id = env.topic_device_id if env else None
    dead_letters.store(
        f"gate/{kind}", reason, raw, now, topic=env.topic if env else None, device_id=device_id
    )
    if device_id:
        commands.reject(device_id, _message_id(raw), reason)
    return {"result": "rejected", "reason": reason}


def _handle(
    kind: str, event: Any, now: datetime, work: Callable[[Envelope], dict[str, Any]]
) -> dict[str, Any]:
    env: Envelope | None = None
    try:
        env = schemas.envelope(event)
        return work(env)
    except InvalidMessage as exc:
        return _refuse(kind, event, env, str(exc), now)


def on_capture(event: Any, now: datetime) -> dict[str, Any]:
    from chalicelib.services import gate

    def work(env: Envelope) -> dict[str, Any]:
        outcome = gate.handle_capture(schemas.parse_capture(env), now)
        return {"result": outcome.result, "visit_id": outcome.visit_id, "due_fen": outcome.due_fen}

    return _handle("capture", event, now, work)


def on_ack(event: Any, now: datetime) -> dict[str, Any]:
    def work(env: Envelope) -> dict[str, Any]:
        ack = schemas.parse_ack(env)
        changed = commands.acknowledge(ack.device_id, ack.correlation_id, ack.result == "ok", ack.detail, now)
        return {"result": "recorded" if changed else "ignored"}

    return _handle("ack", event, now, work)


def on_status(event: Any, now: datetime) -> dict[str, Any]:
    from chalicelib.services import devices

    def work(env: Envelope) -> dict[str, Any]:
        status = schemas.parse_status(env)
        known = devices.record_status(status.device_id, status.state == "online", status.barrier, now)
        if not known:
            raise InvalidMessage(f"unknown device {status.device_id}")
        return {"result": "recorded"}

    return _handle("status", event, now, work)


def on_rule_failures(records: list[dict[str, Any]], now: datetime) -> int:
    """Messages an IoT rule could not deliver (its error action's SQS queue)."""
    for record in records:
        body = str(record.get("body", ""))
        try:
            data = json.loads(body)
        except ValueError:
            data = {}
        failures = data.get("failures") if isinstance(data, dict) else None
        reason = "IoT rule action failed"
        if isinstance(failures, list) and failures and isinstance(failures[0], dict):
            reason = f"IoT rule action failed: {failures[0].get('errorMessage', '')}"[:1000]
        dead_letters.store(
            "iot-rule",
            reason,
            body,
            now,
            topic=data.get("topic") if isinstance(data, dict) else None,
        )
    return len(records)
