"""Platform tables: the device registry (one namespace of IoT thing names for every kind),
commands, the message inbox, dead letters and operators. Access patterns next to each model."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for

# ----------------------------------------------------------------------------------------------
# The device registry: every IoT thing (gate cameras with barrier and display, chargers, e-bike
# sockets, ground locks) by its thing name, one namespace across kinds: creating a device whose
# id exists is refused whatever its kind or operator.
#
# Access patterns:
# - get a device by id (= thing name; gate path, cached per container; every OCPP frame);
# - register a device (conditional put: the id must not exist);
# - update online state / last seen (status messages, OCPP frames, lifecycle events, in order).

GATE_CAMERA = "gate_camera"
CHARGER = "charger"
KINDS = (GATE_CAMERA, CHARGER)


class Device(Model):
    class Meta(TableMeta):
        table_name = table_name_for("devices")

    device_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    kind = UnicodeAttribute(default=GATE_CAMERA)
    # Where it is installed: a gate device at a lot's lane, a charger at a station.
    lot_id = UnicodeAttribute(null=True)
    lane_id = UnicodeAttribute(null=True)
    station_id = UnicodeAttribute(null=True)
    online = BooleanAttribute(default=False)
    barrier = UnicodeAttribute(null=True)
    last_seen_at = UTCDateTimeAttribute(null=True)


# ----------------------------------------------------------------------------------------------
# Commands sent to devices, tracked to a final status.
#
# Keys: hash `device_id`, range `correlation_id`.
# The record is the outbox: it is written in the transaction that decides the command (with the
# exact `topic` and `message` to publish), published after the commit, and re-published until
# the device acknowledges it or it expires (`expires_at`: its own validity, at most the command
# timeout). Devices de-duplicate by correlation id, so a re-publish is harmless.
# Status: sent (committed, not yet acknowledged) → acked | failed | timed_out (each change
# conditional on `sent`).
# Access patterns:
# - a command by device and correlation id (acks);
# - a device's recent commands (staff);
# - commands still waiting for an ack, oldest first (sparse GSI `pending`: `pending_shard` is set
#   only while `sent`; the sweeper re-publishes them and times out the expired ones);
# - one device's commands still waiting (sparse GSI `pending_by_device`: `pending_device` is set
#   only while `sent`; re-published on the device's next status, repeated capture or reconnect).

SENT = "sent"
ACKED = "acked"
FAILED = "failed"
TIMED_OUT = "timed_out"
PENDING_SHARD = "pending"


class PendingCommands(GlobalSecondaryIndex["Command"]):
    class Meta:
        index_name = "pending"
        projection = AllProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    sent_at = UTCDateTimeAttribute(range_key=True)


class PendingCommandsOfDevice(GlobalSecondaryIndex["Command"]):
    class Meta:
        index_name = "pending_by_device"
        projection = AllProjection()

    pending_device = UnicodeAttribute(hash_key=True)
    sent_at = UTCDateTimeAttribute(range_key=True)


class Command(Model):
    class Meta(TableMeta):
        table_name = table_name_for("commands")

    device_id = UnicodeAttribute(hash_key=True)
    correlation_id = UnicodeAttribute(range_key=True)
    command = UnicodeAttribute()
    body = JSONAttribute()
    status = UnicodeAttribute()
    pending_shard = UnicodeAttribute(null=True)
    pending_device = UnicodeAttribute(null=True)
    sent_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute(null=True)
    # What is published, kept so that the resender publishes exactly the same message.
    topic = UnicodeAttribute(null=True)
    message = JSONAttribute(null=True)
    publish_count = NumberAttribute(default=0)  # re-publishes by the resender
    publish_failed = BooleanAttribute(null=True)  # the last publish failed: due at once
    last_published_at = UTCDateTimeAttribute(null=True)
    finished_at = UTCDateTimeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    ttl = TTLAttribute()

    pending = PendingCommands()
    pending_by_device = PendingCommandsOfDevice()


# ----------------------------------------------------------------------------------------------
# The inbox of device messages already handled, for exactly-once processing of QoS 1 repeats.
#
# Keys: hash `message_key` = "{device_id}#{message_id}"; kept 7 days (TTL).
# Access patterns:
# - conditional put (attribute_not_exists) inside the same transaction as the state change.


class DeviceMessage(Model):
    class Meta(TableMeta):
        table_name = table_name_for("device_messages")

    message_key = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    outcome = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()


def message_key(device_id: str, message_id: str) -> str:
    return f"{device_id}#{message_id}"


# ----------------------------------------------------------------------------------------------
# Dead letters: every message that could not be processed, with the reason.
#
# Keys: hash `source` (e.g. "gate/capture", "iot-rule"), range `dead_letter_id` (time-sortable).
# Access patterns:
# - the dead letters of a source in time order (ops, alarms); kept 90 days (TTL).


class DeadLetter(Model):
    class Meta(TableMeta):
        table_name = table_name_for("dead_letters")

    source = UnicodeAttribute(hash_key=True)
    dead_letter_id = UnicodeAttribute(range_key=True)
    reason = UnicodeAttribute()
    topic = UnicodeAttribute(null=True)
    device_id = UnicodeAttribute(null=True)
    payload = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()


# ----------------------------------------------------------------------------------------------
# Operators (运营商): the tenant at the top of every lot and station.
#
# Access patterns:
# - get an operator by id (staff claims carry operator_id).


class Operator(Model):
    class Meta(TableMeta):
        table_name = table_name_for("operators")

    operator_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


# ----------------------------------------------------------------------------------------------
# The audit log: every configuration change and every manual staff action, with who, when,
# what, and the value before and after (domain.md §2.1). Written in the same transaction as the
# change it records (`platform.audit.add`); never changed or removed.
#
# Keys: hash `operator_id`, range `entry_id` (time-sortable "au-…").
# Access patterns:
# - an operator's entries in time order, optionally between two instants (range on entry_id);
# - one object's entries in time order (GSI `by_object`: `object_ref` =
#   "{operator_id}#{object_type}#{object_id}").


class AuditByObject(GlobalSecondaryIndex["AuditEntry"]):
    class Meta:
        index_name = "by_object"
        projection = AllProjection()

    object_ref = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)


class AuditEntry(Model):
    class Meta(TableMeta):
        table_name = table_name_for("audit_log")

    operator_id = UnicodeAttribute(hash_key=True)
    entry_id = UnicodeAttribute(range_key=True)
    object_ref = UnicodeAttribute()
    object_type = UnicodeAttribute()
    object_id = UnicodeAttribute()
    action = UnicodeAttribute()
    who = UnicodeAttribute()
    reason = UnicodeAttribute(null=True)
    before = JSONAttribute(null=True)
    after = JSONAttribute(null=True)
    at = UTCDateTimeAttribute()

    by_object = AuditByObject()


def object_ref(operator_id: str, object_type: str, object_id: str) -> str:
    return f"{operator_id}#{object_type}#{object_id}"


MODELS: list[type[Model]] = [Operator, Device, Command, DeviceMessage, DeadLetter, AuditEntry]
