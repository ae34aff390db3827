"""The money journal's rules (docs/ledger.md): accounts, postings and what each flow posts.

Pure: amounts in integer fen, times and ids passed in. A posting's lines are signed amounts
(positive = debit, negative = credit) that sum to zero; lines on the same account are merged and
zero lines dropped, so one posting never names an account twice.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class Unbalanced(ValueError):
    """A posting whose lines do not sum to zero, or an amount that is not integer fen."""


# ---------------------------------------------------------------------------------------------
# Accounts: "<kind>:<id>". Assets are debit-normal (clearing), the others credit-normal.

PROVIDER_CLEARING = "provider_clearing"  # what a payment provider collected for us
WALLET = "wallet"  # a driver's stored balance (we owe it to the driver)
VISIT = "visit"  # a parking visit's receivable: debit what it owes, credit what was paid
SESSION_HOLD = "session_hold"  # a charge session's prepaid amount held from the wallet
REVENUE = "revenue"  # an operator's earned revenue, per line of business
DISCOUNTS = "discounts"  # an operator's discounts and waivers (contra-revenue)
REFUNDS_PAYABLE = "refunds_payable"  # money taken beyond what was owed: to be paid back
REFUNDS = "refunds"  # an operator's refunds of money it had earned, per business (contra-revenue)
OPENING = "opening"  # balances that existed before the journal (opening entries)
PRESTORE = "prestore"  # money a third party deposited for a plate at a lot (we owe it to the plate)
MERCHANT_DISCOUNTS = "merchant_discounts"  # coupon discounts a merchant funds (owed by the merchant)
MERCHANT_PREPAID = "merchant_prepaid"  # what a merchant paid for coupon batches, not used yet (owed to it)
CARD_BALANCE = "card_balance"  # value loaded onto a stored-value card (we owe it to the holder)
SPACE_OWNER = "space_owner"  # a shared space's owner's part of guests' fees (we owe it to the owner)
RESERVATION_PREPAID = "reservation_prepaid"  # a paid reservation's prepaid parking, not used yet

ACCOUNT_KINDS = (
    PROVIDER_CLEARING,
    WALLET,
    VISIT,
    SESSION_HOLD,
    REVENUE,
    DISCOUNTS,
    REFUNDS_PAYABLE,
    REFUNDS,
    OPENING,
    PRESTORE,
    MERCHANT_DISCOUNTS,
    MERCHANT_PREPAID,
    CARD_BALANCE,
    SPACE_OWNER,
    RESERVATION_PREPAID,
)


def account(kind: str, *parts: str) -> str:
    if kind not in ACCOUNT_KINDS:
        raise ValueError(f"unknown account kind {kind}")
    return ":".join([kind, *parts])


def kind_of(name: str) -> str:
    return name.split(":", 1)[0]


def provider_clearing(provider: str) -> str:
    return account(PROVIDER_CLEARING, provider)


def wallet(user_id: str) -> str:
    return account(WALLET, user_id)


def visit(visit_id: str) -> str:
    return account(VISIT, visit_id)


def session_hold(session_id: str) -> str:
    return account(SESSION_HOLD, session_id)


def revenue(operator_id: str, business: str) -> str:
    return account(REVENUE, operator_id, business)


def discounts(operator_id: str) -> str:
    return account(DISCOUNTS, operator_id)


def refunds_payable(subject: str) -> str:
    return account(REFUNDS_PAYABLE, subject)


def refunds(operator_id: str, business: str) -> str:
    return account(REFUNDS, operator_id, business)


def opening(source: str) -> str:
    return account(OPENING, source)


def prestore(lot_id: str, plate: str) -> str:
    return account(PRESTORE, lot_id, plate)


def merchant_discounts(merchant_id: str) -> str:
    return account(MERCHANT_DISCOUNTS, merchant_id)


def merchant_prepaid(merchant_id: str) -> str:
    return account(MERCHANT_PREPAID, merchant_id)


def card_balance(card_id: str) -> str:
    return account(CARD_BALANCE, card_id)


def space_owner(card_id: str) -> str:
    return account(SPACE_OWNER, card_id)


def reservation_prepaid(reservation_id: str) -> str:
    return account(RESERVATION_PREPAID, reservation_id)


def reservation_subject(reservation_id: str) -> str:
    return f"reservation:{reservation_id}"


# ---------------------------------------------------------------------------------------------
# Postings


@dataclass(frozen=True)
class Line:
    account: str
    amount_fen: int  # + debit, - credit


@dataclass(frozen=True)
class Posting:
    posting_id: str  # the idempotency key: a posting is written once
    kind: str
    at: datetime
    site: str  # "lot:<id>", "station:<id>" or "wallet"
    subject: str  # "visit:<id>", "session:<id>", "wallet:<user>"
    operator_id: str | None
    lines: tuple[Line, ...]
    memo: dict[str, Any] = field(default_factory=dict)

    def amount_on(self, name: str) -> int:
        return sum(line.amount_fen for line in self.lines if line.account == name)


def _fen(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Unbalanced(f"amount {value!r} is not an integer number of fen")
    return value


def lines_of(pairs: Iterable[tuple[str, int]]) -> tuple[Line, ...]:
    """Merge the amounts per account (first-seen order), drop zeros; they must sum to zero."""
    merged: dict[str, int] = {}
    for name, amount in pairs:
        merged[name] = merged.get(name, 0) + _fen(amount)
    if sum(merged.values()) != 0:
        raise Unbalanced(f"lines sum to {sum(merged.values())} fen, not 0")
    return tuple(Line(name, amount) for name, amount in merged.items() if amount != 0)


def posting(
    posting_id: str,
    kind: str,
    at: datetime,
    *,
    site: str,
    subject: str,
    operator_id: str | None,
    pairs: Iterable[tuple[str, int]],
    memo: dict[str, Any] | None = None,
) -> Posting | None:
    """A balanced posting, or None when every line is zero (nothing moved)."""
    lines = lines_of(pairs)
    if not lines:
        return None
    return Posting(posting_id, kind, at, site, subject, operator_id, lines, dict(memo or {}))


def balance(postings: Iterable[Posting], name: str) -> int:
    """The signed balance of one account (debits minus credits)."""
    return sum(p.amount_on(name) for p in postings)


def balances(postings: Iterable[Posting]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for p in postings:
        for line in p.lines:
            totals[line.account] = totals.get(line.account, 0) + line.amount_fen
    return totals


def lot_site(lot_id: str) -> str:
    return f"lot:{lot_id}"


def station_site(station_id: str) -> str:
    return f"station:{station_id}"


def visit_subject(visit_id: str) -> str:
    return f"visit:{visit_id}"


def session_subject(session_id: str) -> str:
    return f"session:{session_id}"


# ---------------------------------------------------------------------------------------------
# What each flow posts


@dataclass(frozen=True)
class PaymentSplit:
    applied_fen: int  # counts toward what the visit owes
    excess_fen: int  # beyond what it owes: a refund obligation


def split_payment(amount_fen: int, owed_fen: int) -> PaymentSplit:
    """Money a provider took is never dropped: what the visit owes is paid, the rest is owed back."""
    applied = max(0, min(_fen(amount_fen), _fen(owed_fen)))
    return PaymentSplit(applied, amount_fen - applied)


def parking_payment(
    payment_id: str,
    *,
    provider: str,
    lot_id: str,
    operator_id: str | None,
    visit_id: str,
    split: PaymentSplit,
    at: datetime,
    on_time: bool,
    source: str | None = None,
    memo: dict[str, Any] | None = None,
) -> Posting | None:
    """A parking fee paid: from the provider's clearing account, or `source` (the payer's wallet
    account for a fee paid from the balance). `memo`: what else the payment records (its source
    and method, a cash payment's shift)."""
    amount = split.applied_fen + split.excess_fen
    return posting(
        f"pay:{payment_id}",
        "parking_payment",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[
            (source or provider_clearing(provider), amount),
            (visit(visit_id), -split.applied_fen),
            (refunds_payable(visit_subject(visit_id)), -split.excess_fen),
        ],
        memo={**(memo or {}), "payment_id": payment_id, "on_time": on_time, "excess_fen": split.excess_fen},
    )


def visit_closed(
    visit_id: str,
    *,
    lot_id: str,
    operator_id: str | None,
    total_fen: int,
    discount_fen: int,
    paid_fen: int,
    at: datetime,
    reason: str = "exit",
) -> Posting | None:
    """At exit: the visit is charged its fee (revenue), discounts and waivers reduce it, and what
    was paid beyond the fee after discounts becomes a refund obligation, so the visit's account
    ends at zero."""
    discount = min(_fen(discount_fen), _fen(total_fen))
    net = total_fen - discount
    excess = max(0, _fen(paid_fen) - net)
    return posting(
        f"close:{visit_id}",
        "visit_closed",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[
            (visit(visit_id), total_fen),
            (revenue(operator_id or "-", "parking"), -total_fen),
            (discounts(operator_id or "-"), discount),
            (visit(visit_id), -discount),
            (visit(visit_id), excess),
            (refunds_payable(visit_subject(visit_id)), -excess),
        ],
        memo={"total_fen": total_fen, "discount_fen": discount, "excess_fen": excess, "reason": reason},
    )


def arrears_settled(
    visit_id: str,
    *,
    lot_id: str,
    operator_id: str | None,
    arrears: dict[str, int],
    at: datetime,
) -> Posting | None:
    """A visit's payment covered earlier visits' arrears (unpaid exits): what it took beyond its
    own fee moves to those visits' receivables, so each ends at zero."""
    total = sum(_fen(v) for v in arrears.values())
    return posting(
        f"arrears:{visit_id}",
        "arrears_settled",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[(visit(visit_id), total), *((visit(old), -_fen(fen)) for old, fen in sorted(arrears.items()))],
        memo={"arrears": dict(sorted(arrears.items()))},
    )


def arrears_paid(
    payment_id: str,
    *,
    provider: str,
    lot_id: str,
    operator_id: str | None,
    visit_id: str,
    amount_fen: int,
    at: datetime,
    memo: dict[str, Any] | None = None,
) -> Posting | None:
    """One earlier visit's arrears paid on their own (cash at the booth for a plate with unpaid
    exits): the money goes from the provider's clearing account to that visit's receivable, as
    `arrears_settled` moves it from a later visit, so the receivable ends at zero. One posting
    per visit (its id names the visit: its arrears are paid once); `payment_id` ties the parts."""
    return posting(
        f"arrears-paid:{visit_id}",
        "arrears_paid",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[(provider_clearing(provider), _fen(amount_fen)), (visit(visit_id), -amount_fen)],
        memo={**(memo or {}), "payment_id": payment_id, "arrears": {visit_id: amount_fen}},
    )


def prepay_hold(
    session_id: str, *, user_id: str, station_id: str, operator_id: str | None, amount_fen: int, at: datetime
) -> Posting | None:
    return posting(
        f"hold:{session_id}",
        "prepay_hold",
        at,
        site=station_site(station_id),
        subject=session_subject(session_id),
        operator_id=operator_id,
        pairs=[(wallet(user_id), amount_fen), (session_hold(session_id), -amount_fen)],
    )


def hold_released(
    session_id: str,
    *,
    user_id: str,
    station_id: str,
    operator_id: str | None,
    prepaid_fen: int,
    total_fen: int,
    at: datetime,
    reason: str,
) -> Posting | None:
    """The one release of a session's hold (settlement, a failed start, a force-end): the total
    is the operator's, the unused prepaid goes back to the wallet, a cost beyond it is taken from
    the wallet. Its id is the same on every path, so the hold is released exactly once."""
    return posting(
        f"release:{session_id}",
        "session_settled" if total_fen else "prepay_returned",
        at,
        site=station_site(station_id),
        subject=session_subject(session_id),
        operator_id=operator_id,
        pairs=[
            (session_hold(session_id), prepaid_fen),
            (revenue(operator_id or "-", "charging"), -total_fen),
            (wallet(user_id), total_fen - prepaid_fen),
        ],
        memo={"prepaid_fen": prepaid_fen, "total_fen": total_fen, "reason": reason},
    )


def wallet_top_up(
    reference: str,
    *,
    user_id: str,
    source: str,
    amount_fen: int,
    at: datetime,
    lot_id: str | None = None,
    operator_id: str | None = None,
) -> Posting | None:
    """Money into a wallet: from a provider (a paid top-up, at the lot whose merchant account took
    it: that lot's journal and reconciliation see it) or an opening balance (site `wallet`)."""
    return posting(
        f"topup:{reference}",
        "wallet_top_up",
        at,
        site=lot_site(lot_id) if lot_id else "wallet",
        subject=f"wallet:{user_id}",
        operator_id=operator_id,
        pairs=[(source, amount_fen), (wallet(user_id), -amount_fen)],
        memo={"reference": reference, **({"payment_id": reference} if lot_id else {})},
    )


def withdrawal_subject(refund_id: str) -> str:
    return f"withdrawal:{refund_id}"


def withdrawal_held(refund_id: str, *, user_id: str, amount_fen: int, at: datetime) -> Posting | None:
    """A withdrawal opened: its amount leaves the wallet into an obligation to pay it back (so the
    driver cannot spend it while it is reviewed and paid)."""
    return posting(
        f"withdraw:{refund_id}",
        "wallet_withdrawal",
        at,
        site="wallet",
        subject=f"wallet:{user_id}",
        operator_id=None,
        pairs=[(wallet(user_id), amount_fen), (refunds_payable(withdrawal_subject(refund_id)), -amount_fen)],
        memo={"refund_id": refund_id},
    )


def withdrawal_released(refund_id: str, *, user_id: str, amount_fen: int, at: datetime) -> Posting | None:
    """A rejected withdrawal: the amount back into the wallet."""
    return posting(
        f"withdraw-released:{refund_id}",
        "wallet_withdrawal_released",
        at,
        site="wallet",
        subject=f"wallet:{user_id}",
        operator_id=None,
        pairs=[(refunds_payable(withdrawal_subject(refund_id)), amount_fen), (wallet(user_id), -amount_fen)],
        memo={"refund_id": refund_id},
    )


def withdrawal_paid(
    refund_id: str, *, payment_id: str, provider: str, user_id: str, amount_fen: int, at: datetime
) -> Posting | None:
    """A withdrawal paid back through the provider of the top-up it goes back through."""
    return posting(
        refund_id_of(refund_id),
        "refund",
        at,
        site="wallet",
        subject=f"wallet:{user_id}",
        operator_id=None,
        pairs=[
            (refunds_payable(withdrawal_subject(refund_id)), amount_fen),
            (provider_clearing(provider), -amount_fen),
        ],
        memo={"refund_id": refund_id, "payment_id": payment_id, "route": "provider", "withdrawal": True},
    )


def refund_id_of(refund_id: str) -> str:
    """A refund's posting id: one posting per refund, however often its payment step runs."""
    return f"refund:{refund_id}"


def charging_refund(
    refund_id: str,
    *,
    session_id: str,
    user_id: str,
    station_id: str,
    operator_id: str | None,
    amount_fen: int,
    at: datetime,
) -> Posting | None:
    """A charging bill refunded to the wallet it was prepaid from: the operator gives back revenue
    it had earned (contra-revenue), the wallet is credited."""
    return posting(
        refund_id_of(refund_id),
        "refund",
        at,
        site=station_site(station_id),
        subject=session_subject(session_id),
        operator_id=operator_id,
        pairs=[(refunds(operator_id or "-", "charging"), amount_fen), (wallet(user_id), -amount_fen)],
        memo={"refund_id": refund_id, "route": "wallet", "amount_fen": amount_fen},
    )


def parking_refund(
    refund_id: str,
    *,
    payment_id: str,
    provider: str,
    lot_id: str,
    operator_id: str | None,
    visit_id: str,
    amount_fen: int,
    from_obligation_fen: int,
    at: datetime,
    to_account: str | None = None,
    subject: str | None = None,
) -> Posting | None:
    """A parking payment paid back through its provider (or to `to_account`, the payer's wallet
    for a fee paid from it): first out of the visit's open refund obligation (money it took
    beyond what was owed), the rest out of the operator's parking revenue (contra-revenue).
    `subject`: whose obligation it is when not the visit's (a paid reservation's)."""
    settled = max(0, min(_fen(from_obligation_fen), _fen(amount_fen)))
    owed_by = subject or visit_subject(visit_id)
    return posting(
        refund_id_of(refund_id),
        "refund",
        at,
        site=lot_site(lot_id),
        subject=owed_by,
        operator_id=operator_id,
        pairs=[
            (refunds_payable(owed_by), settled),
            (refunds(operator_id or "-", "parking"), amount_fen - settled),
            (to_account or provider_clearing(provider), -amount_fen),
        ],
        memo={
            "refund_id": refund_id,
            "payment_id": payment_id,
            "route": "wallet" if to_account else "provider",
            "amount_fen": amount_fen,
            "from_obligation_fen": settled,
        },
    )


def prestore_deposit(
    reference: str,
    *,
    lot_id: str,
    plate: str,
    operator_id: str | None,
    delta_fen: int,
    at: datetime,
    source: str,
) -> Posting | None:
    """A third party's prestore for a plate at a lot, deposited (`delta_fen` > 0) or overwritten
    with a lower amount (< 0: the difference goes back to the third party). The money is held
    for the plate (a liability) until an exit takes a fee from it."""
    return posting(
        f"prestore:{reference}",
        "prestore_deposit",
        at,
        site=lot_site(lot_id),
        subject=f"prestore:{lot_id}:{plate}",
        operator_id=operator_id,
        pairs=[(provider_clearing(source), _fen(delta_fen)), (prestore(lot_id, plate), -delta_fen)],
        memo={"reference": reference, "plate": plate, "delta_fen": delta_fen},
    )


def prestore_payment(
    payment_id: str,
    *,
    lot_id: str,
    plate: str,
    operator_id: str | None,
    visit_id: str,
    amount_fen: int,
    at: datetime,
    memo: dict[str, Any] | None = None,
) -> Posting | None:
    """A visit's fee taken from the plate's prestore at the exit (auto-pay): a parking payment
    whose money was already held for the plate."""
    return held_payment(
        payment_id,
        prestore(lot_id, plate),
        lot_id=lot_id,
        operator_id=operator_id,
        visit_id=visit_id,
        amount_fen=amount_fen,
        at=at,
        memo=memo,
    )


def held_payment(
    payment_id: str,
    held: str,
    *,
    lot_id: str,
    operator_id: str | None,
    visit_id: str,
    amount_fen: int,
    at: datetime,
    memo: dict[str, Any] | None = None,
) -> Posting | None:
    """A visit's fee paid at the exit from money we already hold for the car (`held`: a plate's
    prestore, a stored-value card's balance): a parking payment, never beyond the fee."""
    return posting(
        f"pay:{payment_id}",
        "parking_payment",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[(held, amount_fen), (visit(visit_id), -amount_fen)],
        memo={**(memo or {}), "payment_id": payment_id, "on_time": True, "excess_fen": 0},
    )


def card_top_up(
    card_id: str,
    top_up_id: str,
    *,
    lot_id: str,
    operator_id: str | None,
    amount_fen: int,
    source: str,
    at: datetime,
) -> Posting | None:
    """Value loaded onto a stored-value card (储值卡充值): the money taken (`source`: the clearing
    account it arrived on, e.g. cash) is held on the card's balance until exits take fees from it.
    One posting per top-up id: a repeated top-up is refused by the journal."""
    return posting(
        f"card_top_up:{card_id}:{top_up_id}",
        "card_top_up",
        at,
        site=lot_site(lot_id),
        subject=f"card:{card_id}",
        operator_id=operator_id,
        pairs=[(provider_clearing(source), _fen(amount_fen)), (card_balance(card_id), -amount_fen)],
        memo={"card_id": card_id, "top_up_id": top_up_id, "amount_fen": amount_fen},
    )


def coupon_used(
    coupon_id: str,
    *,
    merchant_id: str,
    lot_id: str,
    operator_id: str | None,
    visit_id: str,
    amount_fen: int,
    used_by: str,
    at: datetime,
    prepaid: bool = False,
) -> Posting | None:
    """A merchant coupon used on a visit: the visit's discount (booked with the operator's
    discounts when the visit closes) is the merchant's, so it moves from the operator's discounts
    to what the merchant funds: owed by the merchant, or, for a coupon of a batch the merchant
    bought (`prepaid`), taken from what it paid in advance. One posting per coupon: a coupon is
    used once."""
    funded_by = merchant_prepaid(merchant_id) if prepaid else merchant_discounts(merchant_id)
    return posting(
        f"coupon:{coupon_id}",
        "coupon_used",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[(funded_by, amount_fen), (discounts(operator_id or "-"), -amount_fen)],
        memo={
            "coupon_id": coupon_id,
            "merchant_id": merchant_id,
            "amount_fen": amount_fen,
            "used_by": used_by,
            "prepaid": prepaid,
        },
    )


def coupon_batch_bought(
    payment_id: str,
    *,
    batch_id: str,
    merchant_id: str,
    provider: str,
    lot_id: str,
    operator_id: str | None,
    amount_fen: int,
    at: datetime,
) -> Posting | None:
    """A merchant paid for a batch of coupons through a provider: the money is the merchant's
    prepaid balance (a liability) until its coupons are used (`coupon_used`, prepaid)."""
    return posting(
        f"batch:{payment_id}",
        "coupon_batch_bought",
        at,
        site=lot_site(lot_id),
        subject=f"batch:{batch_id}",
        operator_id=operator_id,
        pairs=[(provider_clearing(provider), amount_fen), (merchant_prepaid(merchant_id), -amount_fen)],
        memo={"payment_id": payment_id, "batch_id": batch_id, "merchant_id": merchant_id},
    )


def space_owner_share(
    visit_id: str,
    *,
    card_id: str,
    share_id: str,
    lot_id: str,
    operator_id: str | None,
    amount_fen: int,
    at: datetime,
) -> Posting | None:
    """A shared space's guest left after the window (共享车位): the fee's part after the window is
    the space owner's, so it moves from the operator's parking revenue (booked in full by the
    visit's close, in the same transaction) to what is owed to the owner of the card. One posting
    per visit."""
    return posting(
        f"shared:{visit_id}",
        "space_owner_share",
        at,
        site=lot_site(lot_id),
        subject=visit_subject(visit_id),
        operator_id=operator_id,
        pairs=[
            (revenue(operator_id or "-", "parking"), _fen(amount_fen)),
            (space_owner(card_id), -amount_fen),
        ],
        memo={"card_id": card_id, "share_id": share_id, "amount_fen": amount_fen},
    )


# ---------------------------------------------------------------------------------------------
# Paid reservations (docs/identities.md): the fee is the lot's at once, the prepaid parking is
# held for the reservation until its visit closes (used: the visit's; the rest owed back), the
# driver cancels (all owed back) or the window ends without an entry (the prepaid owed back).


@dataclass(frozen=True)
class ReservationMoney:
    reservation_id: str
    payment_id: str
    lot_id: str
    operator_id: str | None
    fee_fen: int
    prepaid_fen: int


def reservation_paid(money: ReservationMoney, *, provider: str, at: datetime) -> Posting | None:
    """A paid reservation booked: the provider collected fee + prepaid; the fee is parking
    revenue, the prepaid a liability of the reservation."""
    fee, prepaid = _fen(money.fee_fen), _fen(money.prepaid_fen)
    return posting(
        f"resv:{money.payment_id}",
        "reservation_paid",
        at,
        site=lot_site(money.lot_id),
        subject=reservation_subject(money.reservation_id),
        operator_id=money.operator_id,
        pairs=[
            (provider_clearing(provider), fee + prepaid),
            (revenue(money.operator_id or "-", "parking"), -fee),
            (reservation_prepaid(money.reservation_id), -prepaid),
        ],
        memo={"payment_id": money.payment_id, "fee_fen": fee, "prepaid_fen": prepaid},
    )


def reservation_owed_back(
    money: ReservationMoney, *, provider: str, amount_fen: int, at: datetime
) -> Posting | None:
    """A payment for a reservation that no longer waited for it (cancelled, its window over,
    paid already): the money is real and owed back whole."""
    subject = reservation_subject(money.reservation_id)
    return posting(
        f"resv:{money.payment_id}",
        "reservation_owed_back",
        at,
        site=lot_site(money.lot_id),
        subject=subject,
        operator_id=money.operator_id,
        pairs=[(provider_clearing(provider), _fen(amount_fen)), (refunds_payable(subject), -amount_fen)],
        memo={"payment_id": money.payment_id, "owed_back_fen": amount_fen},
    )


def reservation_settled(
    money: ReservationMoney,
    *,
    how: str,
    at: datetime,
    used_fen: int = 0,
    visit_id: str | None = None,
    refund_fee: bool = False,
) -> Posting | None:
    """The reservation's prepaid leaves its liability, once (`how`: used | cancelled | no_show):
    what its visit used pays the visit's receivable, the rest (and on a cancel the fee, out of
    the operator's parking revenue) becomes a refund obligation to the payer."""
    prepaid = _fen(money.prepaid_fen)
    used = max(0, min(_fen(used_fen), prepaid))
    fee = _fen(money.fee_fen) if refund_fee else 0
    subject = reservation_subject(money.reservation_id)
    return posting(
        f"resv-{how}:{money.reservation_id}",
        f"reservation_{how}",
        at,
        site=lot_site(money.lot_id),
        subject=subject,
        operator_id=money.operator_id,
        pairs=[
            (reservation_prepaid(money.reservation_id), prepaid),
            (refunds(money.operator_id or "-", "parking"), fee),
            *([(visit(visit_id), -used)] if visit_id is not None else []),
            (refunds_payable(subject), -(prepaid - used + fee)),
        ],
        memo={
            "payment_id": money.payment_id,
            "visit_id": visit_id,
            "used_fen": used,
            "owed_back_fen": prepaid - used + fee,
        },
    )
