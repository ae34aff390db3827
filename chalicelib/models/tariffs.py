"""Tariffs, versioned. A version is never changed once written: editing a tariff writes the next
version, and a visit keeps the versions that were in force when it entered.

Keys: hash `tariff_id`, range `version` (1, 2, ...).
Access patterns:
- the latest version of a tariff (query descending, limit 1; cached with the lot's configuration);
- one exact version (get; cached for good, versions are immutable);
- an operator's tariffs (GSI `by_operator`, every version; the API keeps the latest of each).
"""

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import TableMeta, table_name_for


class TariffsByOperator(GlobalSecondaryIndex["TariffVersion"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    tariff_id = UnicodeAttribute(range_key=True)


class TariffVersion(Model):
    class Meta(TableMeta):
        table_name = table_name_for("tariffs")

    tariff_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    operator_id = UnicodeAttribute()
    name = UnicodeAttribute()
    definition = JSONAttribute()
    created_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()

    by_operator = TariffsByOperator()
