"""Payments tables: payment orders and wallets. Access patterns next to each model."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, table_name_for

# ----------------------------------------------------------------------------------------------
# Payments (收费流水): one per paid quote; applied to its visit exactly once.
#
# `payment_id` is derived from the quote, so asking twice to pay one quote gives the same payment.
# Status: pending → paid (conditional; the provider transaction id is recorded), or pending →
# closed when a newer quote superseded its quote; a closed or expired order the provider still
# reports as paid is booked too (closed → paid, `on_time` false): the money is real. A booked
# payment the visit no longer needed at all is `refund_due` (its whole amount an obligation).
# Access patterns:
# - get a payment by id (= the provider's out_trade_no; notifications, driver view);
# - payments at a lot by time (GSI `by_lot`; staff, reconciliation);
# - a visit's payments (GSI `by_visit`; closing the superseded ones);
# - booked payments with an excess no refund was opened for yet (sparse GSI `overpaid_open`:
#   `overpaid_shard` is set in the booking's transaction and removed in the transaction that opens
#   the automatic refund; the refund workflow's sweep reads it).
#
# Refunds (the workflows context, through payments.ports): `refund_in_flight_fen` is what open
# refunds have reserved, `refunded_fen` what was paid back; together never above `amount_fen`.

PENDING = "pending"
PAID = "paid"  # booked, and (some of) it paid the visit
REFUND_DUE = "refund_due"  # booked, but the visit owed nothing more: all of it is owed back
CLOSED = "closed"
BOOKED = (PAID, REFUND_DUE)


class PaymentsByVisit(GlobalSecondaryIndex["Payment"]):
    class Meta:
        index_name = "by_visit"
        projection = AllProjection()

    visit_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


class PaymentsByLot(GlobalSecondaryIndex["Payment"]):
    class Meta:
        index_name = "by_lot"
        projection = AllProjection()

    lot_id = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


OVERPAID_SHARD = "open"


class OverpaidPayments(GlobalSecondaryIndex["Payment"]):
    class Meta:
        index_name = "overpaid_open"
        projection = AllProjection()

    overpaid_shard = UnicodeAttribute(hash_key=True)
    created_at = UTCDateTimeAttribute(range_key=True)


PENDING_SHARD = "open"


class PendingPayments(GlobalSecondaryIndex["Payment"]):
    """Orders placed at a real provider and not settled yet, by expiry (sparse: `pending_shard` is
    set when the order is created and removed by the sweeper once it is booked or closed)."""

    class Meta:
        index_name = "pending_open"
        projection = AllProjection()

    pending_shard = UnicodeAttribute(hash_key=True)
    expires_at = UTCDateTimeAttribute(range_key=True)


class Payment(Model):
    class Meta(TableMeta):
        table_name = table_name_for("payments")

    payment_id = UnicodeAttribute(hash_key=True)
    quote_id = UnicodeAttribute()
    user_id = UnicodeAttribute()
    lot_id = UnicodeAttribute()
    lot_plate = UnicodeAttribute()
    visit_id = UnicodeAttribute()
    plate = UnicodeAttribute()
    amount_fen = NumberAttribute()
    provider = UnicodeAttribute()
    method = UnicodeAttribute()
    source = UnicodeAttribute()
    status = UnicodeAttribute()
    priced_until = UTCDateTimeAttribute()
    provider_txn_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    paid_at = UTCDateTimeAttribute(null=True)
    expires_at = UTCDateTimeAttribute(null=True)  # the provider order expires with its quote
    closed_at = UTCDateTimeAttribute(null=True)
    # When paid: what counted toward the visit, what became a refund obligation, and whether it
    # arrived while its quote was valid.
    applied_fen = NumberAttribute(null=True)
    excess_fen = NumberAttribute(null=True)
    on_time = BooleanAttribute(null=True)
    overpaid_shard = UnicodeAttribute(null=True)
    refunded_fen = NumberAttribute(default=0)
    refund_in_flight_fen = NumberAttribute(default=0)
    pending_shard = UnicodeAttribute(null=True)  # on the sweeper's index while unsettled (sweeper.py)
    purpose = UnicodeAttribute(null=True)  # None: a parking fee; wallet_top_up (wallet_flows.py)

    by_lot = PaymentsByLot()
    by_visit = PaymentsByVisit()
    overpaid_open = OverpaidPayments()
    pending_open = PendingPayments()


# ----------------------------------------------------------------------------------------------
# Wallets: a driver's account, balance in fen and status (active / frozen).
#
# Access patterns:
# - wallet by user id (charging start checks; prepay debit and settlement refund inside the
#   charging transaction, through payments.ports).


class Wallet(Model):
    class Meta(TableMeta):
        table_name = table_name_for("wallets")

    user_id = UnicodeAttribute(hash_key=True)
    balance_fen = NumberAttribute(default=0)
    status = UnicodeAttribute(default="active")
    updated_at = UTCDateTimeAttribute(null=True)


MODELS: list[type[Model]] = [Payment, Wallet]
