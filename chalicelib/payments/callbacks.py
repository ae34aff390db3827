"""The real providers' notification callbacks: each is verified over the exact bytes received
(`channels`: the account it names, signature, freshness, decryption, and our order's merchant and
amount) and only then booked, through the same use case as the sandbox's, exactly once
(a repeated notification is answered as success and books nothing again).

WeChat Pay wants a 2xx (any other answer is retried); Alipay wants the text `success` (anything
else is retried for about a day)."""

from __future__ import annotations

from typing import Any

from chalice import Response

from chalicelib.payments import channels, orders
from chalicelib.payments import contract as c
from chalicelib.payments.sandbox import SignatureError
from chalicelib.shared.clock import now
from chalicelib.shared.http import SIGNATURE, Routes, error_response, ok

routes = Routes()

FORM = "application/x-www-form-urlencoded"
MAX_BODY = 64 * 1024


def _text(request: Any) -> str | None:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        return None
    return raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)


@routes.route(
    "/v1/pay/wechat/notify",
    "POST",
    response=c.NotificationAnswer,
    errors=[400, 404, 409, 413],
    auth=SIGNATURE,
)
def wechat_notification(request: Any) -> Response:
    """A WeChat Pay payment notification (API v3): verified, decrypted, matched, booked once."""
    body = _text(request)
    if body is None:
        return error_response(413, "too_large", "a notification is at most 64 KiB")
    at = now()
    try:
        note = channels.wechat_notification(request.headers, body, at)
    except SignatureError as exc:
        return error_response(401, "bad_signature", str(exc))
    result = orders.apply_notification(note, at)
    return ok({"code": "SUCCESS", "message": result.outcome.replace("_", " "), "outcome": result.outcome})


@routes.route(
    "/v1/pay/alipay/notify",
    "POST",
    content_types=[FORM],
    errors=[400, 404, 409, 413],
    auth=SIGNATURE,
)
def alipay_notification(request: Any) -> Response:
    """An Alipay trade notification (form POST, RSA2): verified, matched, booked once; answered
    with the text `success`."""
    body = _text(request)
    if body is None:
        return error_response(413, "too_large", "a notification is at most 64 KiB")
    at = now()
    try:
        note = channels.alipay_notification(body, at)
    except SignatureError as exc:
        return error_response(401, "bad_signature", str(exc))
    orders.apply_notification(note, at)
    return Response(body="success", status_code=200, headers={"Content-Type": "text/plain; charset=utf-8"})
