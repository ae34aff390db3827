"""A charger played by hand: OCPP 1.6J frames handed to the OCPP function in the IoT rule's event
shape (iot-rules/charger_ocpp.json), the backend's answers read from the IoT recorder."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from typing import Any

from chalicelib.charging import devices as charger_handlers
from tests.support.iot import Recorder

CHARGER = "demo-charger-1"


class FakeCharger:
    """Sends OCPP frames to the handler as the IoT rule would, reads what the backend sends back."""

    def __init__(self, published: Recorder, charger_id: str = CHARGER) -> None:
        self.published = published
        self.charger_id = charger_id
        self.sent: list[dict[str, Any]] = []

    def event(self, raw: bytes) -> dict[str, Any]:
        return {
            "payload_b64": base64.b64encode(raw).decode(),
            "topic": f"parkcharge/charger/{self.charger_id}/ocpp/up",
            "topic_device_id": self.charger_id,
            "received_at": 0,
        }

    def raw(self, raw: bytes, now: datetime) -> dict[str, Any]:
        event = self.event(raw)
        self.sent.append(event)
        return charger_handlers.on_frame(event, now)

    def call(self, action: str, payload: dict[str, Any], now: datetime, message_id: str | None = None) -> Any:
        message_id = message_id or uuid.uuid4().hex[:12]
        self.raw(json.dumps([2, message_id, action, payload]).encode(), now)
        return self.answer_to(message_id)

    def answer_to(self, message_id: str) -> Any:
        for frame in reversed(self.frames()):
            if frame[0] in (3, 4) and frame[1] == message_id:
                return frame
        raise AssertionError(f"no answer to {message_id}")

    def frames(self) -> list[Any]:
        topic = f"parkcharge/charger/{self.charger_id}/ocpp/down"
        return [json.loads(m) if isinstance(m, str) else m for t, m in self.published.messages if t == topic]

    def calls(self, action: str) -> list[list[Any]]:
        return [f for f in self.frames() if f[0] == 2 and f[2] == action]

    def reply(self, call: list[Any], payload: dict[str, Any], now: datetime) -> None:
        self.raw(json.dumps([3, call[1], payload]).encode(), now)

    def boot(self, now: datetime) -> None:
        answer = self.call(
            "BootNotification", {"chargePointVendor": "Demo", "chargePointModel": "DC-120"}, now
        )
        assert answer[2]["status"] == "Accepted"
        self.call(
            "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing"}, now
        )

    def meter(self, transaction_id: int, wh: int, at: datetime, now: datetime | None = None) -> None:
        value = [
            {
                "timestamp": at.isoformat(),
                "sampledValue": [
                    {"value": str(wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"}
                ],
            }
        ]
        answer = self.call(
            "MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": value}, now or at
        )
        assert answer[0] == 3, answer

    def stop(self, transaction_id: int, wh: int, at: datetime, reason: str = "Remote") -> Any:
        return self.call(
            "StopTransaction",
            {"transactionId": transaction_id, "meterStop": wh, "timestamp": at.isoformat(), "reason": reason},
            at,
        )
