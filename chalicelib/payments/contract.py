"""Payments' typed HTTP input and output (msgspec Structs), and the sandbox provider's
notification body."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from chalicelib.shared.types import Fen, Id, Timestamp


class PaymentIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    quote_id: Id
    amount_fen: Fen
    method: Annotated[str, msgspec.Meta(max_length=20)] = "sandbox"
    # who pays, as the provider knows the payer: WeChat Pay's openid, Alipay's buyer_id (2088…)
    payer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None


class NotificationIn(msgspec.Struct, kw_only=True):
    """What the sandbox provider posts (after its signature is verified). Providers add fields
    over time, so unknown ones are ignored here."""

    out_trade_no: Id
    transaction_id: Id
    amount_fen: Fen
    trade_state: Annotated[str, msgspec.Meta(max_length=32)]
    success_time: Annotated[str, msgspec.Meta(max_length=40)] = ""


class PaymentOut(msgspec.Struct):
    payment_id: str
    quote_id: str | None
    visit_id: str | None
    lot_id: str | None
    plate: str | None
    amount_fen: Fen
    provider: str
    method: str | None
    source: str | None
    status: str
    provider_txn_id: str | None
    created_at: Timestamp | None
    paid_at: Timestamp | None
    purpose: str | None  # None: a parking fee; wallet_top_up


class CreatedPaymentOut(PaymentOut):
    provider_order: dict[str, Any]


class TopUpIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """A wallet top-up through WeChat Pay or Alipay, paid into `lot_id`'s merchant account."""

    amount_fen: Fen
    method: Annotated[str, msgspec.Meta(max_length=20)]
    payer_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)] | None = None
    lot_id: Id


class WalletOut(msgspec.Struct):
    balance_fen: Fen
    status: str


class LotPaymentsOut(msgspec.Struct):
    lot_id: str
    payments: list[PaymentOut]


class NotificationAnswer(msgspec.Struct):
    """The provider's expected acknowledgement; `outcome` says what this notification did:
    applied | already_applied (paid before) | not_success (a trade that did not succeed)."""

    code: str
    message: str
    outcome: str = "applied"


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    reason: Annotated[
        str, msgspec.Meta(min_length=1, max_length=200, pattern=r"\S", description="why (required)")
    ]


class DifferenceOut(msgspec.Struct):
    """A difference between a provider's statement and the journal: `provider_only` (the provider
    took it, nothing was booked), `journal_only` (booked, not on the statement), `amount_differs`."""

    difference_id: str
    day: str
    provider: str
    merchant_id: str
    lot_id: str | None
    kind: str
    out_trade_no: str
    provider_txn_id: str | None
    provider_fen: Fen | None
    journal_fen: Fen | None
    found_at: Timestamp
    status: str
    reason: str | None
    resolved_by: str | None
    resolved_at: Timestamp | None


class DifferencesOut(msgspec.Struct):
    day: str
    differences: list[DifferenceOut]


class DayRecordsQuery(msgspec.Struct, kw_only=True):
    day: Annotated[
        str, msgspec.Meta(min_length=10, max_length=10, description="the lot's local day, YYYY-MM-DD")
    ]


class PaymentRecordOut(msgspec.Struct):
    """One payment booked on the day: `source` is who called (driver_api, staff, third_party,
    device), `method` how the driver paid (wechat, alipay, sandbox, cash, prestore, no_sense)."""

    payment_id: str
    at: Timestamp
    visit_id: str
    amount_fen: Fen
    excess_fen: Fen
    provider: str
    method: str
    source: str
    provider_txn_id: str | None
    shift_id: str | None


class DayRecordsOut(msgspec.Struct):
    lot_id: str
    day: str
    payments: list[PaymentRecordOut]


class PrestoreIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    plate: Annotated[
        str, msgspec.Meta(min_length=1, max_length=32, description="a plate number, e.g. 粤B12345")
    ]
    amount_fen: Fen
    mode: Literal["deposit", "set"] = "deposit"


class PrestoreOut(msgspec.Struct):
    lot_id: str
    plate: str
    balance_fen: Fen
    auto_pay: bool
    no_sense: bool


class PlatePayIn(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    plate: Annotated[
        str, msgspec.Meta(min_length=1, max_length=32, description="a plate number, e.g. 粤B12345")
    ]
    auto_pay: bool = False  # pay an exit's fee from the plate's prestore at that lot
    no_sense: bool = False  # no-sense pay: the barrier opens, the bank debits after the exit


class PlatePayOut(msgspec.Struct):
    plate: str
    auto_pay: bool
    no_sense: bool
