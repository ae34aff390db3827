"""The scheduled invariant check: the journal against the balances the contexts keep beside it
(read through their ports). Scans: a batch job, never on a request path."""

from __future__ import annotations

from itertools import chain

from chalicelib.charging import ports as charging
from chalicelib.ledger import journal
from chalicelib.ledger.domain.invariants import Breach, check
from chalicelib.parking import ports as parking
from chalicelib.payments import ports as payments


def run() -> list[Breach]:
    return check(
        journal.scan_all(),
        wallets=payments.wallet_facts(),
        visits=parking.visit_facts(),
        sessions=charging.session_facts(),
        payments=payments.confirmed_payments(),
        kept=chain(parking.held_facts(), payments.prestore_facts()),
    )
