"""The local sandbox payment provider's wire format, shaped like the real providers' v3 APIs.

A notification is a JSON body POSTed to the callback route with three headers:
`Sandbox-Timestamp` (unix seconds), `Sandbox-Nonce` and `Sandbox-Signature`, the base64 of an
RSA-SHA256 (PKCS#1 v1.5) signature over ``f"{timestamp}\\n{nonce}\\n{body}\\n"``.
The provider keeps the private key; parkcharge holds only the public key.

A refund is asked with `POST /v1/refunds` `{"out_refund_no", "out_trade_no", "amount_fen",
"total_fen"}`; `out_refund_no` is parkcharge's refund id, and the provider makes one refund per
number (the same number again answers the same refund, never a second one). The answer
`{"refund_id", "out_refund_no", "out_trade_no", "amount_fen", "status", "success_time"}` is signed
with the same three headers as a notification, and parkcharge verifies it the same way.
"""

from __future__ import annotations

import base64
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec

from chalicelib.payments.contract import NotificationIn
from chalicelib.shared.errors import Invalid

PROVIDER = "sandbox"
HEADER_TIMESTAMP = "Sandbox-Timestamp"
HEADER_NONCE = "Sandbox-Nonce"
HEADER_SIGNATURE = "Sandbox-Signature"
MAX_SKEW_SECONDS = 300


class SignatureError(Exception):
    """The notification is not signed by the provider (or too old)."""


class MalformedNotification(Invalid):
    """Signed, but the body is not a notification."""

    code = "invalid_notification"


@dataclass(frozen=True)
class Notification:
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    trade_state: str
    success_time: str


def _message(timestamp: str, nonce: str, body: str) -> bytes:
    return f"{timestamp}\n{nonce}\n{body}\n".encode()


def sign(
    private_key_pem: bytes, body: str, timestamp: str | None = None, nonce: str | None = None
) -> dict[str, str]:
    """Provider side: the headers that go with `body`."""
    ts = timestamp or str(int(time.time()))
    nc = nonce or secrets.token_hex(16)
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_key_pem, password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(_message(ts, nc, body), padding.PKCS1v15(), hashes.SHA256())
    return {
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nc,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }


def _header(headers: Any, name: str) -> str:
    value = headers.get(name) or headers.get(name.lower())
    if not value:
        raise SignatureError(f"missing header {name}")
    return str(value)


def verify(public_key_pem: bytes, headers: Any, body: str, now: datetime) -> Notification:
    """parkcharge side: check the signature and freshness, then parse the body."""
    verify_signature(public_key_pem, headers, body, now)
    return parse_notification(body)


def verify_signature(public_key_pem: bytes, headers: Any, body: str, now: datetime) -> None:
    """The body is signed by the provider's key, recently (SignatureError otherwise)."""
    ts = _header(headers, HEADER_TIMESTAMP)
    nonce = _header(headers, HEADER_NONCE)
    signature = _header(headers, HEADER_SIGNATURE)
    try:
        sent = int(ts)
    except ValueError as exc:
        raise SignatureError("timestamp is not an integer") from exc
    if abs(int(now.timestamp()) - sent) > MAX_SKEW_SECONDS:
        raise SignatureError("timestamp outside the accepted window")
    # cryptography is imported on the first notification, not in every function's cold start.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_public_key(public_key_pem)
    assert isinstance(key, rsa.RSAPublicKey)
    try:
        key.verify(
            base64.b64decode(signature, validate=True),
            _message(ts, nonce, body),
            padding.PKCS1v15(),
            hashes.SHA256(),
        )
    except (InvalidSignature, ValueError) as exc:
        raise SignatureError("signature does not verify") from exc


def parse_notification(body: str) -> Notification:
    """The verified body, typed; deep, huge or malformed JSON is a MalformedNotification (400)."""
    try:
        data = msgspec.json.decode(body, type=NotificationIn, strict=True)
    except msgspec.ValidationError as exc:
        raise MalformedNotification(f"malformed notification body: {exc}") from exc
    except (msgspec.DecodeError, RecursionError) as exc:
        raise MalformedNotification("malformed notification body: not valid JSON") from exc
    if any("\x00" in v for v in (data.out_trade_no, data.transaction_id, data.trade_state)):
        raise MalformedNotification("malformed notification body: NUL in a field")
    return Notification(
        out_trade_no=data.out_trade_no,
        transaction_id=data.transaction_id,
        amount_fen=data.amount_fen,
        trade_state=data.trade_state,
        success_time=data.success_time,
    )


# --- refunds ---------------------------------------------------------------------------------

REFUND_PATH = "/v1/refunds"
REFUND_SUCCESS = "SUCCESS"


class RefundAnswer(msgspec.Struct, forbid_unknown_fields=False):
    refund_id: str
    out_refund_no: str
    out_trade_no: str
    amount_fen: int
    status: str
    success_time: str | None = None


def refund_request(out_refund_no: str, out_trade_no: str, amount_fen: int, total_fen: int) -> str:
    return msgspec.json.encode(
        {
            "out_refund_no": out_refund_no,
            "out_trade_no": out_trade_no,
            "amount_fen": amount_fen,
            "total_fen": total_fen,
        }
    ).decode()


def verify_refund(public_key_pem: bytes, headers: Any, body: str, now: datetime) -> RefundAnswer:
    """parkcharge side: a signed refund answer, typed (SignatureError, or ValueError when the
    signed body is not a refund answer)."""
    verify_signature(public_key_pem, headers, body, now)
    try:
        return msgspec.json.decode(body, type=RefundAnswer, strict=True)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ValueError(f"malformed refund answer: {exc}") from exc
