"""A paid reservation's payment (docs/identities.md): a payment whose purpose is `reservation`,
of the lot's fee + prepaid amount, paid into the lot's merchant account, booked as a coupon batch
is (on the provider's notification, a status query or the sweep: `orders.apply_notification`),
once, in one transaction: the payment paid, the reservation paid and its pass written (through
parking.ports), and the posting `resv:<payment id>`: `provider_clearing:<p>` +total, the fee to
the operator's parking revenue, the prepaid to `reservation_prepaid:<reservation>`.

A payment for a reservation that no longer waits for it (cancelled, its window over, paid by
another payment) is booked all the same (the money is real) and owed back whole: `refund_due`,
its excess on the open-overpayment index, so the automatic refund pays it back. What a
reservation owes back later (its unused prepaid, a cancel, a no-show) is put on its payment the
same way (`owe_back`, an item of parking's transaction)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import checkout, views
from chalicelib.payments.models import OVERPAID_SHARD, PAID, REFUND_DUE, Payment
from chalicelib.payments.sandbox import Notification
from chalicelib.shared.errors import DomainError, Invalid
from chalicelib.shared.ids import sortable_id

RESERVATION = "reservation"


def order(
    user_id: str,
    *,
    lot_id: str,
    reservation_id: str,
    key: str,
    lot_plate: str,
    amount_fen: int,
    method: str,
    payer_id: str | None,
    now: datetime,
    idempotency_key: str | None = None,
    refused: DomainError | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reservation's payment and its order at the provider. With an idempotency key a retry
    is the same payment (also once it is booked); a new payment closes the reservation's other
    pending ones (one payable amount per reservation). `refused`: why no new payment may be
    made (the reservation no longer waits for one), raised unless this is a retry."""
    if method == checkout.WALLET:
        raise Invalid("a reservation is paid with sandbox, wechat or alipay", "unsupported_method")
    checkout.check_method(method, payer_id)
    checkout.check_site(method, lot_id)
    created: list[Payment] = []

    def make() -> Payment:
        created.append(
            checkout.purpose_payment(
                sortable_id("rp", now),
                purpose=RESERVATION,
                key=key,
                quote_id=reservation_id,
                lot_plate=lot_plate,
                user_id=user_id,
                lot_id=lot_id,
                amount_fen=amount_fen,
                method=method,
                source="driver_api",
                now=now,
            )
        )
        return created[0]

    request = {
        "purpose": RESERVATION,
        "reservation_id": reservation_id,
        "method": method,
        "payer_id": payer_id,
    }
    payment = checkout.new_or_replayed(user_id, idempotency_key, request, make, now, refused)
    if created:  # a new payment: the reservation's other pending ones are closed
        from chalicelib.payments import orders  # orders books this purpose with `book`

        orders.close_superseded(payment, now)
    if payment.status != "pending":
        return views.payment(payment), {"out_trade_no": payment.payment_id, "status": payment.status}
    return views.payment(payment), checkout.order_for(payment, payer_id, now)


def book(payment: Payment, note: Notification, now: datetime) -> bool:
    """A paid reservation: the payment paid, the reservation paid with its pass, the posting,
    once (False: booked before). A reservation no longer waiting for it owes it back whole."""
    amount = int(payment.amount_fen)
    on_time = payment.expires_at is None or now <= payment.expires_at

    def write(tx: TransactWrite) -> None:  # decided again on every try
        booked = parking.reservation_booking(
            str(payment.lot_id), str(payment.visit_id), str(payment.payment_id), amount, now
        )
        actions = checkout.paid_in_full(payment, note, now, on_time)
        if not booked.accepted:  # owed back whole: nothing of it is applied
            actions = [
                Payment.status.set(REFUND_DUE),
                Payment.provider_txn_id.set(note.transaction_id),
                Payment.paid_at.set(now),
                Payment.applied_fen.set(0),
                Payment.excess_fen.set(amount),
                Payment.on_time.set(on_time),
                Payment.overpaid_shard.set(OVERPAID_SHARD),
            ]
        provider = str(payment.provider)
        posting = (
            ledger.reservation_paid(booked.money, provider=provider, at=now)
            if booked.accepted
            else ledger.reservation_owed_back(booked.money, provider=provider, amount_fen=amount, at=now)
        )
        # items: the posting (a put, sent first), the payment, the reservation, its pass
        tx.update(payment, actions=actions, condition=Payment.status == payment.status)
        parking.reservation_paid(tx, booked, now)
        ledger.add(tx, posting, booked.timezone)

    # the reservation's or its pass's condition failing: it changed meanwhile (cancelled, paid)
    return checkout.book_once(
        payment,
        write,
        other_failed="retry",
        busy="the reservation kept changing; the provider will notify again",
    )


def owe_back(tx: TransactWrite, payment_id: str, amount_fen: int) -> None:
    """What a paid reservation owes back (its unused prepaid, a cancel, a no-show), put on its
    payment as an item of parking's transaction: its excess, on the open-overpayment index, so
    the refund workflow's automatic refund pays it through the provider (once per payment)."""
    tx.update(
        Payment(payment_id),
        actions=[Payment.excess_fen.set(amount_fen), Payment.overpaid_shard.set(OVERPAID_SHARD)],
        condition=(Payment.status == PAID) & Payment.overpaid_shard.does_not_exist(),
    )
