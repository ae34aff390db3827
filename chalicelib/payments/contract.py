"""Payments' typed HTTP input and output (msgspec Structs), and the sandbox provider's
notification body."""

from __future__ import annotations

from typing import Annotated, Any

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
