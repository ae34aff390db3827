"""Devices (IoT things): gate cameras with barrier and display.

Access patterns:
- get a device by id (= thing name; gate path, cached per container);
- update online state / last seen (status messages).
"""

from pynamodb.attributes import BooleanAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class Device(Model):
    class Meta(TableMeta):
        table_name = table_name_for("devices")

    device_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    lane_id = UnicodeAttribute()
    kind = UnicodeAttribute(default="gate_camera")
    online = BooleanAttribute(default=False)
    barrier = UnicodeAttribute(null=True)
    last_seen_at = UTCDateTimeAttribute(null=True)
