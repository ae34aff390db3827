"""Calling the app's Lambda handlers in-process, the way the Lambda runtime would.

`load_app()` imports `app.py` (after the local stack has set the environment), `handler()` finds a
function by the name an IoT rule or an event source uses, and `invoke()` calls it with an event and
a Lambda-like context object.
"""

from __future__ import annotations

import importlib
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

log = logging.getLogger(__name__)

ACCOUNT_ID = "123456789012"  # moto's default account
FUNCTION_PREFIX = "parkcharge-local-"


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers (and Powertools) read."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 512
    region: str = "us-east-1"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    _deadline: float = 0.0

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return time.strftime("%Y/%m/%d/[$LATEST]local", time.gmtime())

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


Handler = Callable[[dict[str, Any], Any], Any]


def load_app() -> ModuleType:
    """Import the Chalice app module (`app.py` at the repository root)."""
    return importlib.import_module("app")


def handler(app_module: ModuleType, name: str) -> Handler:
    """The module attribute `name` (or the last part of a handler string such as `app.name`)."""
    attr = name.rsplit(".", 1)[-1]
    fn = getattr(app_module, attr, None)
    if fn is None or not callable(fn):
        raise LookupError(f"app.py has no handler named {attr!r}")
    return fn


def invoke(fn: Handler, name: str, event: dict[str, Any], region: str) -> Any:
    """Call a handler like the Lambda runtime: a fresh context, errors propagate to the caller."""
    context = LambdaContext(function_name=f"{FUNCTION_PREFIX}{name}", region=region)
    return fn(event, context)
