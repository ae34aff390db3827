"""Money at the booth (岗亭收费): what a cashier takes for a visit, the change handed back, and a
cashier shift's running totals (docs/booth.md).

Pure: integer fen, no I/O. A cashier types what the driver handed over (`tendered_fen`) and,
optionally, what is kept (`amount_fen`); without it the booth keeps what the visit owes (never
more than was handed over) and hands back the rest. What is kept is what goes into the journal:
`tendered - change = kept = applied + excess` (excess: kept beyond what was owed, an open refund
obligation)."""

from __future__ import annotations

from dataclasses import dataclass, replace

DEFAULT_CONFIRM_ABOVE_FEN = 50_000  # 500 yuan: a lot without its own threshold asks above this
CASH = "cash"
BOOTH_METHODS = (CASH,)


class BadTender(ValueError):
    """The amounts do not make a cash payment (nothing kept, or more kept than handed over)."""


@dataclass(frozen=True)
class CashTaken:
    tendered_fen: int  # handed over by the driver
    kept_fen: int  # taken into the till (and the journal)
    change_fen: int  # handed back
    applied_fen: int  # of what was kept, what the visit owed
    excess_fen: int  # of what was kept, beyond what it owed (owed back)


def take(due_fen: int, tendered_fen: int | None, amount_fen: int | None) -> CashTaken:
    """The cash a cashier takes for a visit owing `due_fen`: `amount_fen` kept when given (the
    rest of `tendered_fen` is change), else what is owed out of what was handed over."""
    for value in (due_fen, tendered_fen, amount_fen):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise BadTender(f"amount {value!r} is not a whole number of fen")
    if tendered_fen is None and amount_fen is None:
        raise BadTender("give tendered_fen (handed over) or amount_fen (kept)")
    tendered = tendered_fen if tendered_fen is not None else amount_fen
    assert tendered is not None
    kept = amount_fen if amount_fen is not None else min(tendered, due_fen)
    if kept > tendered:
        raise BadTender(f"{kept} fen kept but only {tendered} fen handed over")
    if kept == 0:
        raise BadTender("nothing is kept: the visit owes nothing or nothing was handed over")
    applied = min(kept, max(0, due_fen))
    return CashTaken(tendered, kept, tendered - kept, applied, kept - applied)


class ArrearsNotCovered(ValueError):
    """Less cash kept than the plate's arrears: they are taken whole or not at all."""


def take_arrears(owed_fen: int, tendered_fen: int | None, amount_fen: int | None) -> CashTaken:
    """The cash a cashier takes for a plate's arrears (欠费补缴): all of them at once (Decision: no
    part payment at the booth; one payment settles every unpaid exit and lifts the automatic
    blacklist). Nothing is kept beyond them (the rest of what was handed over is change)."""
    taken = take(owed_fen, tendered_fen, amount_fen)
    if taken.excess_fen:
        raise BadTender(f"{taken.kept_fen} fen kept but the arrears are {owed_fen} fen")
    if taken.kept_fen < owed_fen:
        raise ArrearsNotCovered(
            f"the arrears are {owed_fen} fen and are taken whole; {taken.kept_fen} fen is not enough"
        )
    return taken


def needs_confirmation(kept_fen: int, confirm_above_fen: int | None) -> bool:
    """An amount above the lot's threshold is taken only when the cashier confirms it."""
    limit = DEFAULT_CONFIRM_ABOVE_FEN if confirm_above_fen is None else confirm_above_fen
    return kept_fen > limit


@dataclass(frozen=True)
class ShiftTotals:
    """What a shift took, kept on the open shift as counters (each cash action adds its delta in
    its own transaction) and reported at close."""

    payments: int = 0  # cash payments taken for visits
    cash_fen: int = 0  # kept from them
    tendered_fen: int = 0
    change_fen: int = 0
    releases: int = 0  # abnormal releases and remote opens of a car, by this cashier
    release_cash_fen: int = 0  # cash taken in them
    waived_fen: int = 0  # what they waived

    @property
    def total_cash_fen(self) -> int:
        """Every fen that went into the till in the shift (the journal's cash postings)."""
        return self.cash_fen + self.release_cash_fen

    def by_method(self) -> dict[str, int]:
        return {CASH: self.total_cash_fen}

    def plus_payment(self, taken: CashTaken) -> ShiftTotals:
        return replace(
            self,
            payments=self.payments + 1,
            cash_fen=self.cash_fen + taken.kept_fen,
            tendered_fen=self.tendered_fen + taken.tendered_fen,
            change_fen=self.change_fen + taken.change_fen,
        )

    def plus_release(self, cash_fen: int, waived_fen: int) -> ShiftTotals:
        return replace(
            self,
            releases=self.releases + 1,
            release_cash_fen=self.release_cash_fen + cash_fen,
            waived_fen=self.waived_fen + waived_fen,
        )

    def minus(self, earlier: ShiftTotals) -> dict[str, int]:
        """The counters' increments from `earlier` to this (what one action adds)."""
        return {
            name: getattr(self, name) - getattr(earlier, name)
            for name in COUNTERS
            if getattr(self, name) != getattr(earlier, name)
        }


COUNTERS = (
    "payments",
    "cash_fen",
    "tendered_fen",
    "change_fen",
    "releases",
    "release_cash_fen",
    "waived_fen",
)
