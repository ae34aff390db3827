"""Visits (在场 / 出场 records): one per stay of a plate at a lot.

Keys: hash `lot_plate` = "{lot_id}#{plate}", range `visit_id` (time-sortable: newest sorts last).
Access patterns:
- the latest visit of a plate at a lot, strongly consistent (gate entry and exit: one Query,
  descending, limit 1);
- a driver's visits of one plate across lots, newest first (GSI `by_plate`);
- cars in a lot now (sparse GSI `inside_by_lot`: `inside_lot` is set only while inside);
- a visit by its keys (quotes and payments store both).
Status: inside → exited | abnormal_entry. Every change is conditional on the status.
"""

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for

INSIDE = "inside"
EXITED = "exited"
ABNORMAL_ENTRY = "abnormal_entry"


class VisitsByPlate(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "by_plate"
        projection = AllProjection()

    plate = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)


class VisitsInsideByLot(GlobalSecondaryIndex["Visit"]):
    class Meta:
        index_name = "inside_by_lot"
        projection = AllProjection()

    inside_lot = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)


class Visit(Model):
    class Meta(TableMeta):
        table_name = table_name_for("visits")

    lot_plate = UnicodeAttribute(hash_key=True)
    visit_id = UnicodeAttribute(range_key=True)
    lot_id = UnicodeAttribute()
    plate = UnicodeAttribute()
    plate_color = NumberAttribute(default=0)
    vehicle_class = UnicodeAttribute(default="small")
    status = UnicodeAttribute()
    inside_lot = UnicodeAttribute(null=True)
    entered_at = UTCDateTimeAttribute()
    entry_lane_id = UnicodeAttribute()
    entry_device_id = UnicodeAttribute()
    entry_message_id = UnicodeAttribute()
    entry_remark = UnicodeAttribute()
    # The tariff versions in force at entry for this car's class: {"tariff_id", "version",
    # "holiday_tariff_id", "holiday_version"}; the visit is always priced with these.
    tariff_ref = JSONAttribute(null=True)
    # no_repeat mode: the start of this visit's last billing cycle and what it owed in it.
    last_cycle_start = UTCDateTimeAttribute(null=True)
    last_cycle_fen = NumberAttribute(null=True)
    exited_at = UTCDateTimeAttribute(null=True)
    exit_lane_id = UnicodeAttribute(null=True)
    exit_device_id = UnicodeAttribute(null=True)
    exit_remark = UnicodeAttribute(null=True)
    total_fen = NumberAttribute(default=0)
    paid_fen = NumberAttribute(default=0)
    discount_fen = NumberAttribute(default=0)
    paid_at = UTCDateTimeAttribute(null=True)
    priced_until = UTCDateTimeAttribute(null=True)
    waiting_exit_device_id = UnicodeAttribute(null=True)
    waiting_exit_lane_id = UnicodeAttribute(null=True)
    abnormal_reason = UnicodeAttribute(null=True)
    # Charging waives parking: {"session_id", "station_id", "minutes", "fen"}, once per visit.
    charging_waiver = JSONAttribute(null=True)

    by_plate = VisitsByPlate()
    inside_by_lot = VisitsInsideByLot()


def lot_plate_key(lot_id: str, plate: str) -> str:
    return f"{lot_id}#{plate}"
