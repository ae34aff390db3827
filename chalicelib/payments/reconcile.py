"""Daily reconciliation (对账): each merchant account's statement for a day against the journal's
payments of that day, the differences stored for finance, who resolves each with a reason; and one
day's payment records of a lot, each with its source and method (docs/booth.md).

For each provider account (the sites naming the same WeChat mchid / Alipay app are one account),
the statement's payments are compared with the journal's `parking_payment` postings on that
provider's clearing account at those sites for the day (the site's own day):
- `provider_only`: the provider took it and we booked nothing (a lost notification);
- `journal_only`: we booked it and the provider's statement does not have it;
- `amount_differs`: both, with different amounts.
A statement payment booked on another day (a notification that arrived after midnight) matches
that posting. A run stores each difference once (a run repeated the same day keeps what finance
already resolved).

Access patterns:
- a day's differences (hash key `day`; finance's list, filtered to their operator);
- one difference by its id (`<provider>:<out_trade_no>`; resolving it).
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError, TransactWriteError
from pynamodb.models import Model

from chalicelib.ledger import ports as ledger
from chalicelib.payments import merchants, statements
from chalicelib.payments.merchants import ALIPAY, LOT, WECHAT, MerchantAccount
from chalicelib.payments.models import Payment
from chalicelib.payments.statements import StatementPayment
from chalicelib.platform import audit
from chalicelib.shared.db import TableMeta, get_or_none, table_name_for, transaction
from chalicelib.shared.errors import Conflict, NotFound
from chalicelib.shared.observability import logger
from chalicelib.shared.timeutil import iso

PROVIDER_ONLY = "provider_only"
JOURNAL_ONLY = "journal_only"
AMOUNT_DIFFERS = "amount_differs"
OPEN = "open"
RESOLVED = "resolved"
DOWNLOAD_TIMEOUT_SECONDS = 20
CHINA = ZoneInfo("Asia/Shanghai")  # the providers' statement days


def yesterday(now: datetime) -> date:
    """The day whose statements a run reads: yesterday in China time."""
    return (now.astimezone(CHINA) - timedelta(days=1)).date()


class Difference(Model):
    class Meta(TableMeta):
        table_name = table_name_for("reconciliation")

    day = UnicodeAttribute(hash_key=True)  # the statement's day, YYYY-MM-DD (China time)
    difference_id = UnicodeAttribute(range_key=True)  # "<provider>:<out_trade_no>"
    operator_id = UnicodeAttribute()
    provider = UnicodeAttribute()
    merchant_id = UnicodeAttribute()
    lot_id = UnicodeAttribute(null=True)  # the site of our payment, when we know it
    kind = UnicodeAttribute()  # provider_only | journal_only | amount_differs
    out_trade_no = UnicodeAttribute()
    provider_txn_id = UnicodeAttribute(null=True)
    provider_fen = NumberAttribute(null=True)  # the statement's amount
    journal_fen = NumberAttribute(null=True)  # the journal's amount
    found_at = UTCDateTimeAttribute()
    status = UnicodeAttribute(default=OPEN)
    reason = UnicodeAttribute(null=True)
    resolved_by = UnicodeAttribute(null=True)
    resolved_at = UTCDateTimeAttribute(null=True)


MODELS: list[type[Model]] = [Difference]


@dataclass(frozen=True)
class Found:
    kind: str
    out_trade_no: str
    provider_fen: int | None
    journal_fen: int | None
    provider_txn_id: str | None = None
    lot_id: str | None = None


def compare(
    statement: Iterable[StatementPayment],
    journal: dict[str, tuple[int, str]],
    booked_elsewhere: Any,
) -> list[Found]:
    """The differences between a statement and the journal's payments of its day (`journal`:
    payment id → (amount, lot id)); `booked_elsewhere(out_trade_no)` is the journal's amount of a
    payment booked on another day, or None."""
    found: list[Found] = []
    seen: set[str] = set()
    for row in statement:
        seen.add(row.out_trade_no)
        ours = journal.get(row.out_trade_no)
        if ours is None:
            elsewhere = booked_elsewhere(row.out_trade_no)
            if elsewhere is None:
                found.append(
                    Found(PROVIDER_ONLY, row.out_trade_no, row.amount_fen, None, row.provider_txn_id)
                )
            elif elsewhere[0] != row.amount_fen:
                found.append(
                    Found(
                        AMOUNT_DIFFERS,
                        row.out_trade_no,
                        row.amount_fen,
                        elsewhere[0],
                        row.provider_txn_id,
                        elsewhere[1],
                    )
                )
        elif ours[0] != row.amount_fen:
            found.append(
                Found(AMOUNT_DIFFERS, row.out_trade_no, row.amount_fen, ours[0], row.provider_txn_id, ours[1])
            )
    for payment_id, (amount, lot_id) in sorted(journal.items()):
        if payment_id not in seen:
            found.append(Found(JOURNAL_ONLY, payment_id, None, amount, None, lot_id))
    return found


# -- reading each side


@dataclass
class AccountGroup:
    provider: str
    merchant_id: str
    operator_id: str
    account: MerchantAccount
    lot_ids: list[str]


def account_groups() -> list[AccountGroup]:
    """The provider accounts lots pay into, each with its lots (a scan of the small accounts
    table, once a day)."""
    groups: dict[tuple[str, str, str], AccountGroup] = {}
    for account in MerchantAccount.scan():
        kind, _, site_id = str(account.site).partition("#")
        if kind != LOT:
            continue
        key = (str(account.provider), str(account.app_id), str(account.merchant_id))
        group = groups.get(key)
        if group is None:
            group = groups[key] = AccountGroup(
                str(account.provider), str(account.merchant_id), str(account.operator_id), account, []
            )
        group.lot_ids.append(site_id)
    return list(groups.values())


def _download(url: str) -> bytes:
    request = urllib.request.Request(url, method="GET")  # noqa: S310 - the provider's bill URL
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as reply:  # noqa: S310
        return bytes(reply.read())


def statement_of(group: AccountGroup, day: str) -> list[StatementPayment]:
    """The account's statement for the day, through its adapter's bill download."""
    if group.provider == WECHAT:
        return statements.wechat_payments(merchants.wechat_adapter(group.account).trade_bill(day))
    if group.provider == ALIPAY:
        return statements.alipay_payments(_download(merchants.alipay_adapter(group.account).bill_url(day)))
    raise ValueError(f"no statement for provider {group.provider}")


def _paid_on(posting: ledger.Posting, provider: str) -> int:
    return posting.amount_on(ledger.provider_clearing(provider))


# what a lot's merchant account is paid for: parking fees, merchants' coupon batches, the
# wallet top-ups drivers pay there and paid reservations (booked, or owed back when booked late)
PROVIDER_PAID = (
    "parking_payment",
    "coupon_batch_bought",
    "wallet_top_up",
    "reservation_paid",
    "reservation_owed_back",
)


def journal_of(group: AccountGroup, day: str) -> dict[str, tuple[int, str]]:
    """The journal's payments through this provider at the group's lots on the day."""
    found: dict[str, tuple[int, str]] = {}
    for lot_id in group.lot_ids:
        for posting in ledger.of_site_day(ledger.lot_site(lot_id), day):
            amount = _paid_on(posting, group.provider)
            if posting.kind in PROVIDER_PAID and amount > 0:
                found[str(posting.memo.get("payment_id"))] = (amount, lot_id)
    return found


def _booked_elsewhere(provider: str) -> Any:
    def amount(out_trade_no: str) -> tuple[int, str | None] | None:
        posting = (
            ledger.get(f"pay:{out_trade_no}")
            or ledger.get(f"batch:{out_trade_no}")
            or ledger.get(f"topup:{out_trade_no}")
            or ledger.get(f"resv:{out_trade_no}")
        )
        if posting is None or _paid_on(posting, provider) <= 0:
            return None
        return _paid_on(posting, provider), posting.site.removeprefix("lot:")

    return amount


# -- the daily run


def run(day: date, now: datetime) -> dict[str, Any]:
    """Reconcile every provider account for `day`; store the differences; a summary."""
    text = day.isoformat()
    summary: dict[str, Any] = {"day": text, "accounts": 0, "differences": 0, "failed": []}
    for group in account_groups():
        try:
            statement = statement_of(group, text)
        except Exception as error:  # one account's bill failing does not stop the others
            logger.exception("statement download failed", extra={"provider": group.provider})
            summary["failed"].append(
                {"provider": group.provider, "merchant_id": group.merchant_id, "error": str(error)[:200]}
            )
            continue
        found = compare(statement, journal_of(group, text), _booked_elsewhere(group.provider))
        for item in found:
            _store(text, group, item, now)
        summary["accounts"] += 1
        summary["differences"] += len(found)
    return summary


def _store(day: str, group: AccountGroup, item: Found, now: datetime) -> None:
    difference = Difference(
        day,
        f"{group.provider}:{item.out_trade_no}",
        operator_id=group.operator_id,
        provider=group.provider,
        merchant_id=group.merchant_id,
        lot_id=item.lot_id,
        kind=item.kind,
        out_trade_no=item.out_trade_no,
        provider_txn_id=item.provider_txn_id,
        provider_fen=item.provider_fen,
        journal_fen=item.journal_fen,
        found_at=now,
        status=OPEN,
    )
    with contextlib.suppress(PutError):  # found by an earlier run: kept as it is (maybe resolved)
        difference.save(condition=Difference.difference_id.does_not_exist())


# -- finance


def differences(operator_id: str, day: date) -> list[Difference]:
    return [d for d in Difference.query(day.isoformat()) if d.operator_id == operator_id]


def resolve(
    user_id: str, operator_id: str, day: date, difference_id: str, reason: str, now: datetime
) -> Difference:
    """Finance resolves a difference with a reason, once (audited)."""
    missing = NotFound("no such difference", "difference_not_found")
    item = get_or_none(Difference, day.isoformat(), difference_id, consistent=True)
    if item is None or item.operator_id != operator_id:
        raise missing
    if item.status == RESOLVED:
        raise Conflict("this difference is resolved already", "difference_resolved")
    before = view(item)
    try:
        with transaction() as tx:
            tx.update(
                item,
                actions=[
                    Difference.status.set(RESOLVED),
                    Difference.reason.set(reason),
                    Difference.resolved_by.set(user_id),
                    Difference.resolved_at.set(now),
                ],
                condition=Difference.status == OPEN,
            )
            audit.add(
                tx,
                user_id,
                operator_id,
                "reconciliation",
                f"{item.day}/{difference_id}",
                "difference_resolved",
                before,
                {**before, "status": RESOLVED, "reason": reason},
                reason,
                now,
            )
    except TransactWriteError as error:
        raise Conflict("this difference is resolved already", "difference_resolved") from error
    item.refresh(consistent_read=True)
    return item


def view(item: Difference) -> dict[str, Any]:
    return {
        "difference_id": item.difference_id,
        "day": item.day,
        "provider": item.provider,
        "merchant_id": item.merchant_id,
        "lot_id": item.lot_id,
        "kind": item.kind,
        "out_trade_no": item.out_trade_no,
        "provider_txn_id": item.provider_txn_id,
        "provider_fen": int(item.provider_fen) if item.provider_fen is not None else None,
        "journal_fen": int(item.journal_fen) if item.journal_fen is not None else None,
        "found_at": iso(item.found_at),
        "status": item.status,
        "reason": item.reason,
        "resolved_by": item.resolved_by,
        "resolved_at": iso(item.resolved_at) if item.resolved_at else None,
    }


# -- one day's payment records of a lot


def _payer_of(account: str) -> str:
    kind, _, rest = account.partition(":")
    return rest if kind == "provider_clearing" else kind


def day_records(lot_id: str, day: date) -> list[dict[str, Any]]:
    """Every payment booked at the lot on its day (the journal's), with who called (source) and how
    the driver paid (method): a provider payment's from its order, the others' from the posting."""
    postings = [
        p
        for p in ledger.of_site_day(ledger.lot_site(lot_id), day)
        if p.kind in ("parking_payment", "arrears_paid")  # arrears paid at the booth: one per visit
    ]
    ids = [str(p.memo.get("payment_id")) for p in postings if "source" not in p.memo]
    orders = {str(o.payment_id): o for o in Payment.batch_get(ids)} if ids else {}
    records: list[dict[str, Any]] = []
    for posting in sorted(postings, key=lambda p: (p.at, p.posting_id)):
        debit = next((line for line in posting.lines if line.amount_fen > 0), None)
        payment_id = str(posting.memo.get("payment_id"))
        order = orders.get(payment_id)
        provider = _payer_of(debit.account) if debit is not None else ""
        records.append(
            {
                "payment_id": payment_id,
                "at": iso(posting.at),
                "visit_id": posting.subject.removeprefix("visit:"),
                "amount_fen": debit.amount_fen if debit is not None else 0,
                "excess_fen": int(posting.memo.get("excess_fen", 0)),
                "provider": provider,
                "method": str(order.method)
                if order is not None
                else str(posting.memo.get("method", provider)),
                "source": str(order.source)
                if order is not None
                else str(posting.memo.get("source", "unknown")),
                "provider_txn_id": order.provider_txn_id if order is not None else None,
                "shift_id": posting.memo.get("shift_id"),
            }
        )
    return records
