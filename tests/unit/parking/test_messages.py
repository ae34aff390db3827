"""Gate device messages: a capture parses into its typed form, anything else is refused with a reason."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking import messages as schemas
from chalicelib.platform import envelope

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _env(payload: object, device: str = "cam-1") -> envelope.Envelope:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return envelope.envelope(
        {
            "payload_b64": base64.b64encode(raw).decode(),
            "topic": "t",
            "topic_device_id": device,
            "received_at": 1,
        }
    )


def test_a_valid_capture_parses() -> None:
    capture = schemas.parse_capture(
        _env(
            {
                "message_id": "m1",
                "device_id": "cam-1",
                "direction": "in",
                "plate": "粤B12345",
                "plate_color": 1,
                "vehicle_type": 0,
                "device_time": "2026-11-22T09:00:00+08:00",
            }
        )
    )
    assert capture.device_time == T0 and capture.plate_color == 1


@given(st.binary(max_size=200))
def test_any_bytes_either_parse_or_are_refused_with_a_reason(raw: bytes) -> None:
    try:
        schemas.parse_capture(_env(raw))
    except envelope.InvalidMessage as exc:
        assert str(exc)
