"""The platform's typed HTTP output (msgspec Structs) for the OpenAPI document."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from chalicelib.shared.types import Instant, Timestamp

PageLimit = Annotated[int, msgspec.Meta(ge=1, le=200, description="items per page")]
Cursor = Annotated[str, msgspec.Meta(max_length=2048, description="the `next_cursor` of the page before")]


class DeviceCommandOut(msgspec.Struct):
    correlation_id: str
    command: str
    status: str
    sent_at: Timestamp
    finished_at: Timestamp | None
    detail: Any


class DeviceCommandsOut(msgspec.Struct):
    device_id: str
    commands: list[DeviceCommandOut]


class HealthOut(msgspec.Struct):
    status: str
    stage: str


class AuditQuery(msgspec.Struct, kw_only=True):
    """`object_type` and `object_id` together: one object's entries; `from` / `to`: between two
    instants (ISO 8601 with Z); `cursor`: the next page."""

    object_type: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    object_id: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    since: Instant | None = msgspec.field(default=None, name="from")
    until: Instant | None = msgspec.field(default=None, name="to")
    cursor: Cursor | None = None
    limit: PageLimit = 50


class AuditEntryOut(msgspec.Struct):
    entry_id: str
    at: Timestamp
    who: str
    object_type: str
    object_id: str
    action: str
    reason: str | None
    before: Any
    after: Any


class AuditOut(msgspec.Struct):
    entries: list[AuditEntryOut]
    next_cursor: str | None
