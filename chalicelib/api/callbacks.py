"""Payment provider notifications. Authenticated by the provider's signature, applied once."""

from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib.api.http import error_response, now, ok

bp = Blueprint(__name__)


@bp.route("/v1/callbacks/payments/sandbox", methods=["POST"], content_types=["application/json"])
def sandbox_notification() -> Response:
    from chalicelib.payments.provider import verify_sandbox
    from chalicelib.payments.sandbox import SignatureError
    from chalicelib.services import payments

    request = bp.current_request
    raw = request.raw_body or b""
    body = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    try:
        note = verify_sandbox(request.headers, body)
    except SignatureError as exc:
        return error_response(401, "bad_signature", str(exc))
    result = payments.apply_notification(note, now())
    return ok({"code": "SUCCESS", "message": "applied" if result.applied else "already applied"})
