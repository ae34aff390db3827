"""The inbox of device messages already handled, for exactly-once processing of QoS 1 repeats.

Keys: hash `message_key` = "{device_id}#{message_id}"; kept 7 days (TTL).
Access patterns:
- conditional put (attribute_not_exists) inside the same transaction as the state change.
"""

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


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
