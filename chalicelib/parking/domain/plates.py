"""Plates and vehicle classes (domain.md §2.1)."""

from __future__ import annotations

from datetime import datetime

UNREADABLE = "未识别"
_UNREADABLE_INPUTS = {"", "无牌", "无牌车", "未识别", "NONE", "UNKNOWN"}

PLATE_COLORS = {0: "unknown", 1: "blue", 2: "yellow", 3: "white", 4: "black", 5: "green"}
VEHICLE_TYPES = {0: "unknown", 1: "small", 2: "large", 3: "extra_large", 4: "medium"}


def normalize(plate: str) -> str:
    """Upper-case, without spaces, dots or middle dots, as cameras and drivers type them."""
    return "".join(ch for ch in plate.strip().upper() if ch not in " .·-\u3000")


def is_unreadable(plate: str) -> bool:
    return normalize(plate) in _UNREADABLE_INPUTS


def placeholder(now: datetime) -> str:
    """A placeholder plate for an unreadable capture: 未识别 + a time-based number."""
    return f"{UNREADABLE}{now.strftime('%y%m%d%H%M%S')}{now.microsecond // 1000:03d}"


def vehicle_class(plate: str, plate_color: int, vehicle_type: int) -> str:
    """small / large / other, for tariffs.

    The device's type wins when it gives one: small → small, large and extra-large → large,
    medium → other. Otherwise (Decision, domain.md §2.1) yellow plates
    are large except coach plates (ending in 学), and every other plate is small.
    """
    if vehicle_type == 1:
        return "small"
    if vehicle_type in (2, 3):
        return "large"
    if vehicle_type == 4:
        return "other"
    if plate_color == 2 and not plate.endswith("学"):
        return "large"
    return "small"
