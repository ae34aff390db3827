"""Domain errors: what a use case raises when it refuses something a caller can act on.

They carry a stable `code` and a human `message`, and know nothing of HTTP, MQTT or OCPP: each
edge maps them to its own answer (shared.http to a status and `{"code", "message"}`, the device
edges to a rejection or a CALLERROR, a workflow task to a failure)."""

from __future__ import annotations


class DomainError(Exception):
    code = "invalid"

    def __init__(self, message: str, code: str | None = None, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.errors = errors


class Invalid(DomainError):
    """The input is not acceptable as given."""

    code = "bad_request"


class Unauthorized(DomainError):
    """The caller is not authenticated."""

    code = "unauthorized"


class Forbidden(DomainError):
    """The caller may not do this."""

    code = "forbidden"


class NotFound(DomainError):
    """No such thing (or not the caller's: the two look the same from outside)."""

    code = "not_found"


class Conflict(DomainError):
    """The current state does not allow it."""

    code = "conflict"


class Gone(DomainError):
    """It existed but is no longer valid (an expired quote)."""

    code = "gone"


class Unprocessable(DomainError):
    """Well-formed but contradicts what it refers to (an amount that is not the quoted one)."""

    code = "unprocessable"


class Unavailable(DomainError):
    """A dependency is throttled or down; try again later."""

    code = "unavailable"
