"""Errors a client can act on. The HTTP edge turns them into `{"code", "message"}` with the status."""

from __future__ import annotations

from chalice.app import ChaliceUnhandledError


class AppError(ChaliceUnhandledError):
    """Raised by services; passes through Chalice to the app's error middleware unchanged."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class BadRequest(AppError):
    status = 400
    code = "bad_request"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"


class Forbidden(AppError):
    status = 403
    code = "forbidden"


class NotFound(AppError):
    status = 404
    code = "not_found"


class Conflict(AppError):
    status = 409
    code = "conflict"


class Gone(AppError):
    status = 410
    code = "gone"


class Unprocessable(AppError):
    status = 422
    code = "unprocessable"
