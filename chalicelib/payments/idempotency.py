"""Retry-safe payment creation: a driver's `Idempotency-Key` names one creation request.

The first request with a key binds the key (per driver) to a digest of its body, with a
conditional put; a retry with the same key and the same body is answered with the same payment
(its order at the provider is asked again with the same order number, which every provider
answers with the same order); the same key with another body is refused (422
`idempotency_key_reused`), whatever the timing, because the binding is one conditional write.
Bindings expire after a day (TTL): a key is for retrying one call, not forever.

Access pattern: the binding of (driver, key), read consistently.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from chalicelib.shared.db import TableMeta, get_or_none, table_name_for
from chalicelib.shared.errors import Invalid, Unprocessable

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
KEPT = timedelta(hours=24)


class PaymentRequest(Model):
    class Meta(TableMeta):
        table_name = table_name_for("payment_requests")

    request_key = UnicodeAttribute(hash_key=True)  # <user id>#<idempotency key>
    digest = UnicodeAttribute()  # sha256 of the request body's fields
    payment_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires = TTLAttribute(null=True)


MODELS: list[type[Model]] = [PaymentRequest]


class KeyReused(Unprocessable):
    code = "idempotency_key_reused"


def key_of(headers: Any) -> str | None:
    """The request's idempotency key (None without one); a malformed one is refused."""
    value = headers.get(HEADER) if headers is not None else None
    if value is None and headers is not None:
        value = headers.get(HEADER.lower())
    if value is None:
        return None
    key = str(value).strip()
    if not KEY_PATTERN.match(key):
        raise Invalid(
            f"{HEADER} must be 8 to 128 characters of letters, digits and . _ : -", "invalid_idempotency_key"
        )
    return key


def digest_of(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _reused(bound: PaymentRequest) -> KeyReused:
    return KeyReused(
        f"this {HEADER} was used for another payment request ({bound.payment_id}); "
        "use a new key for a new request"
    )


def replayed(user_id: str, key: str, digest: str) -> str | None:
    """The payment a request with this key created before (None: the key is new); the key
    bound to another body refuses."""
    bound = get_or_none(PaymentRequest, f"{user_id}#{key}", consistent=True)
    if bound is None:
        return None
    if bound.digest != digest:
        raise _reused(bound)
    return str(bound.payment_id)


def bind(user_id: str, key: str, digest: str, payment_id: str, now: datetime) -> None:
    """Bind `key` to this body (and its payment), once; a key bound to another body refuses."""
    request = PaymentRequest(
        f"{user_id}#{key}", digest=digest, payment_id=payment_id, created_at=now, expires=now + KEPT
    )
    try:
        request.save(condition=PaymentRequest.request_key.does_not_exist())
        return
    except PutError:
        pass
    bound = get_or_none(PaymentRequest, request.request_key, consistent=True)
    if bound is not None and (bound.digest != digest or bound.payment_id != payment_id):
        raise _reused(bound)
