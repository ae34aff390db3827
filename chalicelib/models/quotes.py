"""Fee quotes (chargeBillNumber): what is due for a visit at one instant, valid for minutes.

Access patterns:
- get a quote by id (payment creation, driver view); expired quotes are removed by TTL and
  refused by `expires_at` before that.
"""

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class Quote(Model):
    class Meta(TableMeta):
        table_name = table_name_for("quotes")

    quote_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    lot_plate = UnicodeAttribute()
    visit_id = UnicodeAttribute()
    plate = UnicodeAttribute()
    entered_at = UTCDateTimeAttribute()
    priced_until = UTCDateTimeAttribute()
    total_fen = NumberAttribute()
    paid_fen = NumberAttribute()
    discount_fen = NumberAttribute()
    due_fen = NumberAttribute()
    breakdown = JSONAttribute()
    discounts = JSONAttribute(default=list)
    tariff = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()
