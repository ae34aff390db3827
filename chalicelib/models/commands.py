"""Commands sent to devices, tracked to a final status.

Keys: hash `device_id`, range `correlation_id`.
Status: sent → acked | failed | timed_out (each change conditional on `sent`).
Access patterns:
- a command by device and correlation id (acks);
- a device's recent commands (staff);
- commands still waiting for an ack, oldest first (sparse GSI `pending`: `pending_shard` is set
  only while `sent`; the sweeper queries sent_at < now - timeout).
"""

from pynamodb.attributes import JSONAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for

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


class Command(Model):
    class Meta(TableMeta):
        table_name = table_name_for("commands")

    device_id = UnicodeAttribute(hash_key=True)
    correlation_id = UnicodeAttribute(range_key=True)
    command = UnicodeAttribute()
    body = JSONAttribute()
    status = UnicodeAttribute()
    pending_shard = UnicodeAttribute(null=True)
    sent_at = UTCDateTimeAttribute()
    finished_at = UTCDateTimeAttribute(null=True)
    detail = UnicodeAttribute(null=True)
    ttl = TTLAttribute()

    pending = PendingCommands()
