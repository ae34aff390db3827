"""WeChat Pay's refund notifications (`POST /v1/pay/wechat/refund-notify`, the notify_url of the
refunds the workflow asks): verified by payments (the platform key named by `Wechatpay-Serial`,
the timestamp window, AES-256-GCM decryption, the merchant, and the amount of our refund of that
number), then the refund is booked once (`refunds.book_provider_refund`, the same transaction the
refund's Pay task writes). Here, not in payments: payments never calls the workflows context.

WeChat Pay retries anything but a 2xx; a refund that is ABNORMAL or CLOSED at WeChat is
acknowledged and booked nothing (the Pay task's next ask answers it as refused, and the refund
fails for finance)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.payments import ports as payments
from chalicelib.shared.clock import now
from chalicelib.shared.db import get_or_none
from chalicelib.shared.http import SIGNATURE, Routes, error_response, ok
from chalicelib.workflows import refunds
from chalicelib.workflows.refund_contract import RefundNotificationAnswer
from chalicelib.workflows.refund_models import Refund

routes = Routes()

MAX_BODY = 64 * 1024
WECHAT = "wechat"


def _our_wechat_refund(out_refund_no: str) -> int | None:
    refund = get_or_none(Refund, out_refund_no, consistent=True) if out_refund_no else None
    if refund is None or refund.provider != WECHAT:
        return None
    return int(refund.amount_fen)


@routes.route(
    "/v1/pay/wechat/refund-notify",
    "POST",
    response=RefundNotificationAnswer,
    errors=[400, 404, 409, 413],
    auth=SIGNATURE,
)
def wechat_refund_notification(request: Any) -> Response:
    """A WeChat Pay refund notification (REFUND.SUCCESS / ABNORMAL / CLOSED): verified, matched
    with our refund, booked once."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        return error_response(413, "too_large", "a notification is at most 64 KiB")
    body = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    at = now()
    try:
        note = payments.wechat_refund_notification(request.headers, body, at, _our_wechat_refund)
    except payments.SignatureError as exc:
        return error_response(401, "bad_signature", str(exc))
    if note.status != "SUCCESS":
        return ok({"code": "SUCCESS", "message": f"noted: refund {note.status}", "outcome": "not_success"})
    _refund, booked = refunds.book_provider_refund(note.out_refund_no, note.refund_id, at)
    outcome = "applied" if booked else "already_applied"
    return ok({"code": "SUCCESS", "message": outcome.replace("_", " "), "outcome": outcome})
