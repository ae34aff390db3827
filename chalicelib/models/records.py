"""Records staff query and export (abnormal entries, unmatched exits, ...).

Keys: hash `lot_id`, range `record_key` = "{type}#{created_at ISO}#{id}".
Access patterns:
- records of one type at a lot in time order (query begins_with "{type}#").
"""

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for

ABNORMAL_ENTRY = "abnormal_entry"
UNMATCHED_EXIT = "unmatched_exit"
TYPES = (ABNORMAL_ENTRY, UNMATCHED_EXIT)


class Record(Model):
    class Meta(TableMeta):
        table_name = table_name_for("records")

    lot_id = UnicodeAttribute(hash_key=True)
    record_key = UnicodeAttribute(range_key=True)
    type = UnicodeAttribute()
    plate = UnicodeAttribute()
    visit_id = UnicodeAttribute(null=True)
    detail = JSONAttribute(default=dict)
    created_at = UTCDateTimeAttribute()
