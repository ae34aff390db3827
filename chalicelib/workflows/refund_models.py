"""Refunds (退款): one item per refund, its id the approval id of its review (one id across the
refund, its approval, its state machine execution and the provider's refund number).

Access patterns:
- a refund by id (the workflow's tasks, the driver's and staff's views);
- a driver's refunds by time (GSI `by_user`);
- an operator's refunds by time (GSI `by_operator`; staff, the former charging refund-request list);
- an operator's failed refunds (sparse GSI `failed`, set only while the refund is failed: finance);
- the refunds of one subject (GSI `by_subject`: a session's or a payment's refunds);
- refunds whose execution has not started yet (sparse GSI `unstarted`: `start_pending` is set when
  the refund is opened and removed once its execution runs; the sweep starts the ones left).

Refund policies: one item per operator (defaults when there is none)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for


class RefundsByUser(GlobalSecondaryIndex["Refund"]):
    class Meta:
        index_name = "by_user"
        projection = AllProjection()

    user_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class RefundsByOperator(GlobalSecondaryIndex["Refund"]):
    class Meta:
        index_name = "by_operator"
        projection = AllProjection()

    operator_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class FailedRefunds(GlobalSecondaryIndex["Refund"]):
    class Meta:
        index_name = "failed"
        projection = AllProjection()

    failed_operator = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class RefundsBySubject(GlobalSecondaryIndex["Refund"]):
    class Meta:
        index_name = "by_subject"
        projection = AllProjection()

    subject = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class UnstartedRefunds(GlobalSecondaryIndex["Refund"]):
    class Meta:
        index_name = "unstarted"
        projection = AllProjection()

    start_pending = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


START_PENDING = "pending"


class Refund(Model):
    class Meta(TableMeta):
        table_name = table_name_for("refunds")

    refund_id = UnicodeAttribute(hash_key=True)
    operator_id = UnicodeAttribute()
    user_id = UnicodeAttribute()  # the driver the money goes back to
    subject_kind = UnicodeAttribute()  # charging_session | parking_payment
    subject_id = UnicodeAttribute()
    subject = UnicodeAttribute()  # f"{kind}:{id}"
    site = UnicodeAttribute()  # the ledger's site: station:<id> or lot:<id>
    origin = UnicodeAttribute()  # driver | complaint | overpayment
    requested_by = UnicodeAttribute()  # a user id, or "system"
    reason = UnicodeAttribute(null=True)
    amount_fen = NumberAttribute()
    refunded_fen = NumberAttribute(default=0)
    route = UnicodeAttribute()  # wallet | provider
    provider = UnicodeAttribute(null=True)  # for the provider route: which one
    status = UnicodeAttribute()
    levels = JSONAttribute(default=list)  # the review roles in order, from the policy
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    paid_at = UTCDateTimeAttribute(null=True)
    provider_refund_id = UnicodeAttribute(null=True)
    failure = UnicodeAttribute(null=True)  # why it failed (the last provider error)
    runs = NumberAttribute(default=1)  # executions: 1, then one more per finance retry
    events = JSONAttribute(default=list)  # [{"at", "state", "note", "by"}]
    notifications = JSONAttribute(default=list)  # [{"at", "text", "state"}] for the requester
    details = JSONAttribute(default=dict)  # the subject's facts the payment needs (lot, visit...)
    failed_operator = UnicodeAttribute(null=True)  # set only while failed (sparse GSI)
    start_pending = UnicodeAttribute(null=True)  # set until its execution started (sparse GSI)

    by_user = RefundsByUser()
    by_operator = RefundsByOperator()
    failed = FailedRefunds()
    by_subject = RefundsBySubject()
    unstarted = UnstartedRefunds()


class RefundPolicyItem(Model):
    class Meta(TableMeta):
        table_name = table_name_for("refund_policies")

    operator_id = UnicodeAttribute(hash_key=True)
    policy = JSONAttribute()
    updated_at = UTCDateTimeAttribute()
    updated_by = UnicodeAttribute()


MODELS: list[type[Model]] = [Refund, RefundPolicyItem]
