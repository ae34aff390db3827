"""Operators (运营商): the tenant at the top of every lot and station.

Access patterns:
- get an operator by id (staff claims carry operator_id).
"""

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class Operator(Model):
    class Meta(TableMeta):
        table_name = table_name_for("operators")

    operator_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
