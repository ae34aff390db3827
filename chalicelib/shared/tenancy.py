"""Tenancy as one checked invariant: whatever a write names (a lot, station, charger, device,
tariff, plate, user) belongs to the caller's operator, or for a driver's resources to the driver.

Every use case asks through `require_same_owner` (directly, or through `shared.db.get_owned`, or a
context's port such as `parking.ports.require_plate_owner`): another tenant's resource answers
exactly like one that does not exist, so nothing about it leaks, not even that it exists.
"""

from __future__ import annotations

from chalicelib.shared.errors import DomainError


def require_same_owner(owner: str | None, caller: str | None, missing: DomainError) -> None:
    """Raise `missing` unless the resource's owner (None: no such resource) is the caller."""
    if owner is None or caller is None or owner != caller:
        raise missing
