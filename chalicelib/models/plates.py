"""Plates bound to driver accounts. A plate belongs to at most one account at a time.

Access patterns:
- who holds a plate (get by plate; ownership checks on every driver route);
- a driver's plates (GSI `by_user`).
"""

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class PlatesByUser(GlobalSecondaryIndex["PlateBinding"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    plate = UnicodeAttribute(range_key=True)


class PlateBinding(Model):
    class Meta(TableMeta):
        table_name = table_name_for("plates")

    plate = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    bound_at = UTCDateTimeAttribute()

    by_user = PlatesByUser()
