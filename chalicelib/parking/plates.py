"""Plates bound to driver accounts: every driver route checks ownership through here."""

from __future__ import annotations

from datetime import datetime

from pynamodb.exceptions import PutError

from chalicelib.parking.domain import plates
from chalicelib.parking.models import PlateBinding
from chalicelib.shared.errors import Conflict, Forbidden, Invalid


def clean(plate: object) -> str:
    if not isinstance(plate, str) or not plate.strip():
        raise Invalid("plate is required", "invalid_plate")
    value = plates.normalize(plate)
    if not 2 <= len(value) <= 10 or plates.is_unreadable(value):
        raise Invalid("plate is not a plate number", "invalid_plate")
    return value


def bind(user_id: str, plate: str, now: datetime) -> PlateBinding:
    binding = PlateBinding(plate, user_id=user_id, bound_at=now)
    try:
        binding.save(condition=PlateBinding.plate.does_not_exist() | (PlateBinding.user_id == user_id))
    except PutError as exc:
        raise Conflict("this plate is bound to another account", "plate_taken") from exc
    return binding


def of_user(user_id: str) -> list[PlateBinding]:
    return list(PlateBinding.by_user.query(user_id))


def require_owner(user_id: str, plate: str) -> None:
    try:
        binding = PlateBinding.get(plate)
    except PlateBinding.DoesNotExist:
        binding = None
    if binding is None or binding.user_id != user_id:
        raise Forbidden("this plate is not bound to your account", "not_your_plate")
