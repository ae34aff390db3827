"""Dead letters: every message that could not be processed, with the reason.

Keys: hash `source` (e.g. "gate/capture", "iot-rule"), range `dead_letter_id` (time-sortable).
Access patterns:
- the dead letters of a source in time order (ops, alarms); kept 90 days (TTL).
"""

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


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
