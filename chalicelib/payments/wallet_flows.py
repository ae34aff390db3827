"""The wallet's money movements beyond charging: a top-up through WeChat Pay or Alipay (a payment
whose purpose is `wallet_top_up`, booked to the wallet when its notification is applied) and a
parking fee paid from the balance (method `wallet`). Each movement is one transaction with its
journal posting:

- a top-up paid at the provider: `topup:<payment id>`, `provider_clearing:<p>` +A, `wallet:<user>` −A;
- a parking fee from the balance: `pay:<payment id>`, `wallet:<user>` +A, `visit:<v>` −applied, the
  visit's refund obligation −excess.

A top-up is paid into the merchant account of the lot the driver names (the mini-program of that
site); the wallet is the driver's own, usable at every site."""

from __future__ import annotations

from datetime import datetime

from pynamodb.transactions import TransactWrite

from chalicelib.ledger import ports as ledger
from chalicelib.parking import ports as parking
from chalicelib.payments import checkout, wallet
from chalicelib.payments.models import BOOKED, Payment, Wallet
from chalicelib.payments.sandbox import Notification
from chalicelib.shared.errors import Conflict, Invalid, NotFound
from chalicelib.shared.ids import sortable_id

TOP_UP = "wallet_top_up"
WALLET = "wallet"
MAX_TOP_UP_FEN = 500_000  # 5000 yuan at a time


def top_ups_key(user_id: str) -> str:
    """A driver's top-ups stand on the by-visit index under this key."""
    return f"wallet:{user_id}"


def check_balance(user_id: str, amount_fen: int) -> None:
    """A fee paid from the balance needs an active wallet holding it (409 otherwise)."""
    mine = wallet.view(user_id)
    if mine.status != wallet.ACTIVE:
        raise Conflict("the wallet is frozen", "wallet_frozen")
    if mine.balance_fen < amount_fen:
        raise Conflict(
            f"the wallet holds {mine.balance_fen} fen, the fee is {amount_fen} fen; "
            "top it up or pay another way",
            "insufficient_balance",
        )


def create_top_up(
    user_id: str,
    *,
    amount_fen: int,
    method: str,
    payer_id: str | None,
    lot_id: str,
    now: datetime,
    idempotency_key: str | None = None,
) -> tuple[Payment, dict[str, object]]:
    """A top-up order at the provider of the lot's merchant account: the payment and what the
    mini-program needs to pay it."""
    if method == checkout.SANDBOX or method == WALLET:
        raise Invalid("a top-up is paid with wechat or alipay", "unsupported_method")
    checkout.check_method(method, payer_id)
    if not 0 < amount_fen <= MAX_TOP_UP_FEN:
        raise Invalid(f"a top-up is 1 to {MAX_TOP_UP_FEN} fen", "invalid_amount")
    if parking.lot_operator(lot_id) is None:
        raise NotFound("no such lot", "lot_not_found")
    checkout.check_site(method, lot_id)
    fields = {
        "purpose": TOP_UP,
        "amount_fen": amount_fen,
        "method": method,
        "payer_id": payer_id,
        "lot_id": lot_id,
    }
    payment = checkout.new_or_replayed(
        user_id, idempotency_key, fields, lambda: _new_top_up(user_id, amount_fen, method, lot_id, now), now
    )
    if payment.status in BOOKED:
        return payment, {"out_trade_no": payment.payment_id, "status": payment.status}
    return payment, checkout.order_for(payment, payer_id, now)


def _new_top_up(user_id: str, amount_fen: int, method: str, lot_id: str, now: datetime) -> Payment:
    payment_id = sortable_id("t", now)
    return checkout.purpose_payment(
        payment_id,
        purpose=TOP_UP,
        key=top_ups_key(user_id),
        quote_id=payment_id,
        lot_plate=f"wallet#{user_id}",
        user_id=user_id,
        lot_id=lot_id,
        amount_fen=amount_fen,
        method=method,
        source="driver_api",
        now=now,
    )


def book_top_up(payment: Payment, note: Notification, now: datetime) -> bool:
    """A paid top-up: the payment paid, the wallet credited, the posting, once (False: it was
    booked before). A top-up paid after its order expired is booked all the same: the money is
    real."""
    amount = int(payment.amount_fen)

    def write(tx: TransactWrite) -> None:
        tx.update(
            payment,
            actions=checkout.paid_in_full(payment, note, now),
            condition=Payment.status == payment.status,
        )
        tx.update(
            Wallet(str(payment.user_id)),
            actions=[
                Wallet.balance_fen.add(amount),
                Wallet.updated_at.set(now),
                Wallet.status.set(Wallet.status | wallet.ACTIVE),
            ],
        )
        ledger.add(
            tx,
            ledger.wallet_top_up(
                str(payment.payment_id),
                user_id=str(payment.user_id),
                source=ledger.provider_clearing(str(payment.provider)),
                amount_fen=amount,
                at=now,
                lot_id=str(payment.lot_id),
                operator_id=parking.lot_operator(str(payment.lot_id)),
            ),
            parking.lot_timezone(str(payment.lot_id)),
        )

    return checkout.book_once(payment, write)
