"""The platform's HTTP edge: a device's recent commands with their status, and the audit log,
for staff of the operator."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.platform import audit, commands, registry
from chalicelib.platform.contract import AuditOut, AuditQuery, DeviceCommandsOut
from chalicelib.shared.auth import STAFF, Principal
from chalicelib.shared.errors import Invalid, NotFound
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


@routes.route("/v1/ops/audit", "GET", query=AuditQuery, response=AuditOut, auth=STAFF)
def audit_log(request: Any, *, me: Principal, query: AuditQuery) -> Response:
    """The operator's audit log, oldest first: every configuration change and manual staff action
    with who, when, the value before and after."""
    if bool(query.object_type) != bool(query.object_id):
        raise Invalid("object_type and object_id go together", "invalid_object")
    if query.since is not None and query.until is not None and query.since > query.until:
        raise Invalid("from must not be after to", "invalid_time")
    entries, cursor = audit.query(
        me.operator,
        object_type=query.object_type,
        object_id=query.object_id,
        since=query.since,
        until=query.until,
        cursor=query.cursor,
        limit=query.limit,
    )
    return ok({"entries": [audit.view(e) for e in entries], "next_cursor": cursor})
