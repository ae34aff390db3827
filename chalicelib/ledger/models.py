"""The ledger's table: the append-only journal of postings. Access patterns next to the model."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for

# ----------------------------------------------------------------------------------------------
# Journal (分录): one item per posting, written once (conditional put on `posting_id`, the
# idempotency key) inside the transaction of the state change it belongs to; never updated.
#
# `lines` = [[account, signed fen], ...] summing to zero; `at_id` = "{ISO time}#{posting_id}".
# Access patterns:
# - a posting by id (idempotency);
# - a site's postings for one local day, in time order (GSI `by_site_day`: "lot:<id>#YYYY-MM-DD"
#   or "station:<id>#YYYY-MM-DD"; staff journal);
# - a subject's postings in time order (GSI `by_subject`: "visit:<id>", "session:<id>",
#   "wallet:<user>"; staff view of one visit or session);
# - the whole journal (the scheduled invariant check scans it; never on a request path).


class PostingsBySiteDay(GlobalSecondaryIndex["JournalPosting"]):
    class Meta:
        index_name = "by_site_day"
        projection = AllProjection()

    site_day = UnicodeAttribute(hash_key=True)
    at_id = UnicodeAttribute(range_key=True)


class PostingsBySubject(GlobalSecondaryIndex["JournalPosting"]):
    class Meta:
        index_name = "by_subject"
        projection = AllProjection()

    subject = UnicodeAttribute(hash_key=True)
    at_id = UnicodeAttribute(range_key=True)


class JournalPosting(Model):
    class Meta(TableMeta):
        table_name = table_name_for("journal")

    posting_id = UnicodeAttribute(hash_key=True)
    kind = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    at_id = UnicodeAttribute()
    site = UnicodeAttribute()
    site_day = UnicodeAttribute()
    subject = UnicodeAttribute()
    operator_id = UnicodeAttribute(null=True)
    lines = JSONAttribute()
    memo = JSONAttribute(default=dict)

    by_site_day = PostingsBySiteDay()
    by_subject = PostingsBySubject()


MODELS: list[type[Model]] = [JournalPosting]
