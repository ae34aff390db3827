"""The gate devices' messages as IoT rules deliver them (docs/mqtt.md): parse, hand to one use
case, and refuse what cannot be processed. A refused message gets a rejection on the device's
error topic and a dead letter with the reason; the handler itself keeps serving."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from chalicelib.parking import gate, messages
from chalicelib.platform import commands, dead_letters, registry, topics
from chalicelib.platform.downlink import get_publisher
from chalicelib.platform.envelope import Envelope, InvalidMessage, envelope, message_id_of


def reject(device_id: str, ref_message_id: str | None, reason: str) -> None:
    get_publisher().publish(
        topics.down(device_id, "error"),
        {"ref_message_id": ref_message_id, "code": "invalid_message", "reason": reason},
    )


def _refuse(kind: str, event: Any, env: Envelope | None, reason: str, now: datetime) -> dict[str, Any]:
    raw = env.raw if env else json.dumps(event, default=str).encode()
    device_id = env.topic_device_id if env else None
    dead_letters.store(
        f"gate/{kind}", reason, raw, now, topic=env.topic if env else None, device_id=device_id
    )
    if device_id:
        reject(device_id, message_id_of(raw), reason)
    return {"result": "rejected", "reason": reason}


def _handle(
    kind: str, event: Any, now: datetime, work: Callable[[Envelope], dict[str, Any]]
) -> dict[str, Any]:
    env: Envelope | None = None
    try:
        env = envelope(event)
        return work(env)
    except InvalidMessage as exc:
        return _refuse(kind, event, env, str(exc), now)


def on_capture(event: Any, now: datetime) -> dict[str, Any]:
    def work(env: Envelope) -> dict[str, Any]:
        outcome = gate.handle_capture(messages.parse_capture(env), now)
        return {"result": outcome.result, "visit_id": outcome.visit_id, "due_fen": outcome.due_fen}

    return _handle("capture", event, now, work)


def on_ack(event: Any, now: datetime) -> dict[str, Any]:
    def work(env: Envelope) -> dict[str, Any]:
        ack = messages.parse_ack(env)
        # An answer does not re-publish the device's other waiting commands: their acks are
        # usually on the way behind it, and under a backlog every ack re-published them all
        # again (more acks, more re-publishes: a storm). Captures, status reports, reconnects
        # and the schedule re-publish.
        changed = commands.acknowledge(ack.device_id, ack.correlation_id, ack.result == "ok", ack.detail, now)
        return {"result": "recorded" if changed else "ignored"}

    return _handle("ack", event, now, work)


def on_status(event: Any, now: datetime) -> dict[str, Any]:
    def work(env: Envelope) -> dict[str, Any]:
        status = messages.parse_status(env)
        known = registry.record_status(status.device_id, status.state == "online", status.barrier, now)
        if not known:
            raise InvalidMessage(f"unknown device {status.device_id}")
        commands.resend_pending(status.device_id, now)
        return {"result": "recorded"}

    return _handle("status", event, now, work)


def on_event(event: Any, now: datetime) -> dict[str, Any]:
    def work(env: Envelope) -> dict[str, Any]:
        return {"result": gate.handle_event(messages.parse_event(env), now)}

    return _handle("event", event, now, work)
