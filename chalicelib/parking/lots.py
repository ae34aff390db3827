"""Lots for staff (scoped to their operator) and a driver's own visits."""

from __future__ import annotations

from chalicelib.parking import plates
from chalicelib.parking.models import EXITED, INSIDE, Lane, Lot, Visit
from chalicelib.shared.db import get_owned
from chalicelib.shared.errors import Invalid, NotFound

PAGE = 500


def own(operator_id: str, lot_id: str) -> Lot:
    """The caller's lot; another operator's lot answers exactly like a missing one."""
    return get_owned(
        Lot, lot_id, owner=("operator_id", operator_id), missing=NotFound("no such lot", "lot_not_found")
    )


def of_operator(operator_id: str) -> list[Lot]:
    return list(Lot.by_operator.query(operator_id))


def lanes(lot_id: str) -> list[Lane]:
    return list(Lane.query(lot_id))


def visits_inside(operator_id: str, lot_id: str, status: str) -> list[Visit]:
    """Cars in the lot (newest entry first) or, with `status=exited`, the latest cars that left
    (newest exit first); the records listing pages through either by time."""
    own(operator_id, lot_id)
    if status == INSIDE:
        return list(Visit.inside_by_lot.query(lot_id, scan_index_forward=False, limit=PAGE))
    if status == EXITED:
        return list(Visit.exited_by_lot.query(lot_id, scan_index_forward=False, limit=PAGE))
    raise Invalid("status must be 'inside' or 'exited'", "invalid_status")


def visits_of_plate(user_id: str, plate: str) -> list[Visit]:
    """A driver's visits of one of their plates, newest first."""
    plates.require_owner(user_id, plate)
    return list(Visit.by_plate.query(plate, scan_index_forward=False, limit=50))
