"""Lots (停车场) and their lanes (车道) with gates.

Access patterns:
- get a lot by id (gate path, cached per container; staff views);
- list the lots of an operator (GSI `by_operator`);
- list the lanes of a lot (query lanes by lot_id; gate path, cached with the lot).
"""

from pynamodb.attributes import (
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class LotsByOperator(GlobalSecondaryIndex["Lot"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    lot_id = UnicodeAttribute(range_key=True)


class Lot(Model):
    class Meta(TableMeta):
        table_name = table_name_for("lots")

    lot_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    timezone = UnicodeAttribute(default="Asia/Shanghai")
    capacity = NumberAttribute(default=0)
    grace_minutes = NumberAttribute(default=15)
    # Which tariff applies to each vehicle class, on ordinary days and on holidays:
    # {"small": {"tariff_id": "...", "holiday_tariff_id": "..." | null}, "large": {...}, "other": {...}}
    tariff_plan = JSONAttribute(default=dict)
    # Holidays as the lot's local dates, "YYYY-MM-DD".
    holidays: ListAttribute[str] = ListAttribute(default=list)
    updated_at = UTCDateTimeAttribute()

    by_operator = LotsByOperator()


class Lane(Model):
    """A lane with its gate (barrier); `direction` is `in` or `out`."""

    class Meta(TableMeta):
        table_name = table_name_for("lanes")

    lot_id = UnicodeAttribute(hash_key=True)
    lane_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    direction = UnicodeAttribute()
    gate_id = UnicodeAttribute()
    device_ids = ListAttribute(of=UnicodeAttribute, default=list)
