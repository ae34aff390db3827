"""The platform's HTTP edge: a device's recent commands with their status, for staff of the
device's operator."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.platform import commands, registry
from chalicelib.platform.contract import DeviceCommandsOut
from chalicelib.shared.auth import STAFF, Principal
from chalicelib.shared.errors import NotFound
from chalicelib.shared.http import Routes, ok
from chalicelib.shared.timeutil import iso, iso_or_none

routes = Routes()


@routes.route(
    "/v1/ops/devices/{device_id}/commands", "GET", response=DeviceCommandsOut, errors=[404], auth=STAFF
)
def device_commands(request: Any, device_id: str, *, me: Principal) -> Response:
    device = registry.get(device_id, consistent=False)
    if device is None or device.operator_id != me.operator:
        raise NotFound("no such device", "device_not_found")
    return ok(
        {
            "device_id": device_id,
            "commands": [
                {
                    "correlation_id": c.correlation_id,
                    "command": c.command,
                    "status": c.status,
                    "sent_at": iso(c.sent_at),
                    "finished_at": iso_or_none(c.finished_at),
                    "detail": c.detail,
                }
                for c in commands.recent(device_id)
            ],
        }
    )
