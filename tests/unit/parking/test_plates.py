"""Plates: normalisation, placeholders for unreadable ones, vehicle classes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.parking.domain import plates

T0 = datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


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
