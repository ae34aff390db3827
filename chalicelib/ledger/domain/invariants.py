"""The books' invariants (architecture.md, Money), as a pure check over the journal and the
balances the other contexts keep beside it. Each breach names what broke and where."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from chalicelib.ledger.domain import postings as p


@dataclass(frozen=True)
class WalletFact:
    user_id: str
    balance_fen: int


@dataclass(frozen=True)
class VisitFact:
    visit_id: str
    status: str  # inside | exited | abnormal_entry
    paid_fen: int  # what counts toward the fee
    overpaid_fen: int  # the open refund obligation


@dataclass(frozen=True)
class SessionFact:
    session_id: str
    prepaid_fen: int
    refunded_fen: int
    released: bool
    refund_requested_fen: int
    total_fen: int


@dataclass(frozen=True)
class PaymentFact:
    payment_id: str
    provider: str
    amount_fen: int
    refunded_fen: int = 0
    # where its booking took the money from and the booking's id, when not a provider's clearing
    # account and `pay:<id>` (a parking fee paid from the wallet; a wallet top-up's `topup:<id>`)
    source_account: str = ""
    booking_id: str = ""


@dataclass(frozen=True)
class HeldFact:
    """A balance a context keeps for a holder beside its credit-normal journal account (a
    stored-value card's `card_balance:<card_id>`, a plate's prestore `prestore:<lot>:<plate>`)."""

    account: str
    balance_fen: int


@dataclass(frozen=True)
class Breach:
    rule: str
    subject: str
    detail: str


# the accounts whose balance a context keeps beside them (HeldFact)
HELD_KINDS = (p.CARD_BALANCE, p.PRESTORE, p.RESERVATION_PREPAID)


def check(
    journal: Iterable[p.Posting],
    wallets: Iterable[WalletFact] = (),
    visits: Iterable[VisitFact] = (),
    sessions: Iterable[SessionFact] = (),
    payments: Iterable[PaymentFact] = (),
    kept: Iterable[HeldFact] = (),
) -> list[Breach]:
    postings = list(journal)
    breaches: list[Breach] = []
    by_id = {posting.posting_id: posting for posting in postings}
    by_subject: dict[str, list[p.Posting]] = {}
    for posting in postings:
        by_subject.setdefault(posting.subject, []).append(posting)
        total = sum(line.amount_fen for line in posting.lines)
        if total != 0:
            breaches.append(Breach("posting_unbalanced", posting.posting_id, f"lines sum to {total}"))
    totals = p.balances(postings)
    if sum(totals.values()) != 0:
        breaches.append(Breach("journal_unbalanced", "journal", f"sums to {sum(totals.values())}"))

    # every wallet equals its postings (a wallet is credit-normal: balance = -(its lines))
    seen_wallets = set()
    for wallet in wallets:
        seen_wallets.add(p.wallet(wallet.user_id))
        posted = -totals.get(p.wallet(wallet.user_id), 0)
        if posted != wallet.balance_fen:
            breaches.append(
                Breach("wallet_mismatch", wallet.user_id, f"balance {wallet.balance_fen}, postings {posted}")
            )
    for name, amount in totals.items():
        if p.kind_of(name) == p.WALLET and name not in seen_wallets and amount != 0:
            breaches.append(Breach("wallet_missing", name, f"postings {-amount} but no wallet"))

    # every balance a context keeps beside its account (stored-value cards, prestore, paid
    # reservations' prepaid) equals its postings and is never below zero
    seen_held = set()
    for fact in kept:
        seen_held.add(fact.account)
        posted = -totals.get(fact.account, 0)
        if posted != fact.balance_fen or fact.balance_fen < 0:
            breaches.append(
                Breach("held_mismatch", fact.account, f"balance {fact.balance_fen}, postings {posted}")
            )
    for name, amount in totals.items():
        if p.kind_of(name) in HELD_KINDS and name not in seen_held and amount != 0:
            breaches.append(Breach("held_missing", name, f"postings {-amount} but no balance kept"))

    # nothing refunded to the obligation's account beyond what it holds
    for name, amount in totals.items():
        if p.kind_of(name) == p.REFUNDS_PAYABLE and amount > 0:
            breaches.append(Breach("obligation_overpaid", name, f"paid back {amount} beyond the obligation"))

    # no space owner is paid out beyond their part of guests' fees (shared spaces)
    for name, amount in totals.items():
        if p.kind_of(name) == p.SPACE_OWNER and amount > 0:
            breaches.append(Breach("space_owner_overpaid", name, f"paid out {amount} beyond what was owed"))

    # no visit keeps more than it owes without an open obligation
    for visit in visits:
        subject = p.visit_subject(visit.visit_id)
        paid = -sum(
            posting.amount_on(p.visit(visit.visit_id))
            for posting in by_subject.get(subject, [])
            if posting.kind == "parking_payment"
        )
        obligation = -totals.get(p.refunds_payable(subject), 0)
        if paid != visit.paid_fen:
            breaches.append(
                Breach("visit_paid_mismatch", visit.visit_id, f"paid {visit.paid_fen}, journal {paid}")
            )
        if obligation != visit.overpaid_fen:
            breaches.append(
                Breach(
                    "visit_obligation_mismatch",
                    visit.visit_id,
                    f"overpaid {visit.overpaid_fen}, journal {obligation}",
                )
            )
        receivable = totals.get(p.visit(visit.visit_id), 0)
        if visit.status != "inside" and receivable < 0:
            breaches.append(
                Breach("visit_keeps_excess", visit.visit_id, f"keeps {-receivable} beyond what it owed")
            )

    # no session refunds more than it took
    for session in sessions:
        subject = p.session_subject(session.session_id)
        related = by_subject.get(subject, [])
        hold = totals.get(p.session_hold(session.session_id), 0)
        held = -sum(
            x.amount_on(p.session_hold(session.session_id)) for x in related if x.kind == "prepay_hold"
        )
        returned = -sum(
            min(0, line.amount_fen)
            for x in related
            if x.kind != "prepay_hold"
            for line in x.lines
            if p.kind_of(line.account) == p.WALLET
        )
        if held != session.prepaid_fen:
            breaches.append(Breach("session_hold_mismatch", session.session_id, f"held {held}"))
        if returned > held:
            breaches.append(
                Breach("session_refunds_more", session.session_id, f"returned {returned} of {held}")
            )
        if session.released and hold != 0:
            breaches.append(Breach("session_hold_open", session.session_id, f"released but {hold} left"))
        if not session.released and hold != -session.prepaid_fen:
            breaches.append(Breach("session_hold_moved", session.session_id, f"hold {hold} before release"))
        if session.refunded_fen + session.refund_requested_fen > session.prepaid_fen:
            breaches.append(
                Breach(
                    "session_refund_requests_exceed",
                    session.session_id,
                    f"{session.refunded_fen} + {session.refund_requested_fen} > {session.prepaid_fen}",
                )
            )

    # what the journal paid back per payment (refund postings through a provider)
    refunded_of: dict[str, int] = {}
    for posting in postings:
        if posting.kind == "refund" and "payment_id" in posting.memo:
            paid_back = -sum(  # through the provider, or to the wallet that paid the fee
                line.amount_fen
                for line in posting.lines
                if p.kind_of(line.account) in (p.PROVIDER_CLEARING, p.WALLET)
            )
            key = str(posting.memo["payment_id"])
            refunded_of[key] = refunded_of.get(key, 0) + paid_back

    # every payment a provider confirmed is in the journal, and never refunded beyond it
    for payment in payments:
        back = refunded_of.get(payment.payment_id, 0)
        if back > payment.amount_fen:
            breaches.append(
                Breach("payment_refunds_more", payment.payment_id, f"refunded {back} of {payment.amount_fen}")
            )
        if back != payment.refunded_fen:
            breaches.append(
                Breach(
                    "payment_refund_mismatch",
                    payment.payment_id,
                    f"refunded {payment.refunded_fen}, journal {back}",
                )
            )
        booking = by_id.get(payment.booking_id or f"pay:{payment.payment_id}")
        source = payment.source_account or p.provider_clearing(payment.provider)
        booked = booking.amount_on(source) if booking is not None else 0
        if booked != payment.amount_fen:
            breaches.append(
                Breach(
                    "payment_not_booked",
                    payment.payment_id,
                    f"confirmed {payment.amount_fen}, booked {booked}",
                )
            )
    return breaches
