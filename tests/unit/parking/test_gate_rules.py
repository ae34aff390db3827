"""Pure gate rules: plates, vehicle classes, grace window, exit decisions, device messages."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.parking import messages as schemas
from chalicelib.parking.domain import gate, plates, tariffs
from chalicelib.platform import envelope
from chalicelib.shared.money import format_yuan, require_fen

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)
GRACE = timedelta(minutes=15)
TARIFF = tariffs.parse({"kind": "duration", "free_minutes": 15, "unit_minutes": 60, "unit_fen": 300})
ZONE = UTC


@pytest.mark.parametrize(
    ("plate", "color", "vtype", "expected"),
    [
        ("粤B12345", 1, 0, "small"),
        ("粤B12345", 2, 0, "large"),  # yellow plate without a type: large
        ("粤B1234学", 2, 0, "small"),  # coach plate: small
        ("粤BD12345", 5, 0, "small"),  # new-energy green plate: small
        ("粤B12345", 2, 1, "small"),  # the device's type wins
        ("粤B12345", 1, 3, "large"),
        ("粤B12345", 1, 4, "other"),
    ],
)
def test_vehicle_class(plate: str, color: int, vtype: int, expected: str) -> None:
    assert plates.vehicle_class(plate, color, vtype) == expected


def test_plates_are_normalised_and_unreadable_ones_get_a_placeholder() -> None:
    assert plates.normalize(" 粤b·123 45 ") == "粤B12345"
    assert plates.is_unreadable("无牌") and plates.is_unreadable("")
    assert plates.placeholder(T0).startswith("未识别261122")


def test_money_is_integer_fen() -> None:
    assert format_yuan(750) == "7.50" and format_yuan(5) == "0.05" and format_yuan(-120) == "-1.20"
    for bad in (7.5, True, "750", -1):
        with pytest.raises(ValueError):
            require_fen(bad)


def _exit(now: datetime, paid: int, paid_at: datetime | None, quoted: datetime | None) -> gate.ExitDecision:
    until = gate.fee_until(now, paid_at, quoted, GRACE)
    return gate.decide_exit("P", tariffs.price(TARIFF, T0, until, ZONE), paid, 0)


def test_exit_opens_when_paid_within_grace_and_owes_the_difference_after() -> None:
    quoted = T0 + timedelta(minutes=90)  # 2 started hours: 600
    paid_at = quoted + timedelta(minutes=2)
    in_grace = _exit(paid_at + timedelta(minutes=14), 600, paid_at, quoted)
    assert in_grace.open_gate and in_grace.due_fen == 0
    late = _exit(paid_at + timedelta(minutes=40), 600, paid_at, quoted)
    assert not late.open_gate and late.due_fen == 300 and late.display == ("P", "请缴费 3.00元")


@given(st.integers(0, 10_000), st.integers(0, 3000))
def test_due_is_never_negative(paid: int, minutes: int) -> None:
    decision = _exit(T0 + timedelta(minutes=minutes), paid, None, None)
    assert decision.due_fen == max(0, decision.fee.total_fen - paid)
    assert decision.open_gate == (decision.due_fen == 0)


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


def test_an_event_without_a_payload_is_refused() -> None:
    with pytest.raises(envelope.InvalidMessage):
        envelope.envelope({"topic_device_id": "x"})
    with pytest.raises(envelope.InvalidMessage):
        envelope.envelope({"topic_device_id": "x", "payload_b64": "***"})
