"""Calling the app's Lambda handlers in-process, the way the Lambda runtime would, with what
Chalice ships: the function is found in the app's `handler_map` by the name an IoT rule or an
event source uses (the same name as the deployed function's), and called with Chalice's local
`LambdaContext`.

`load_app()` imports `app.py` (after the local stack has set the environment).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

from chalice.local import LambdaContext

ACCOUNT_ID = "123456789012"  # moto's default account
FUNCTION_PREFIX = "parkcharge-local-"
MEMORY_MB = 512
TIMEOUT_MS = 60_000

Handler = Callable[..., Any]


def load_app() -> ModuleType:
    """Import the Chalice app module (`app.py` at the repository root)."""
    return importlib.import_module("app")


def handler(app_module: ModuleType, name: str) -> Handler:
    """The function registered under `name` (a lambda_function, schedule or queue consumer)."""
    fn = app_module.app.handler_map.get(name)
    if fn is None or not callable(fn):
        raise LookupError(f"the app has no function named {name!r}")
    return fn


def context(name: str, region: str) -> LambdaContext:
    ctx = LambdaContext(f"{FUNCTION_PREFIX}{name}", MEMORY_MB, max_runtime_ms=TIMEOUT_MS)
    ctx.invoked_function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{FUNCTION_PREFIX}{name}"
    return ctx


def invoke(fn: Handler, name: str, event: dict[str, Any], region: str) -> Any:
    """Call a handler like the Lambda runtime: a fresh context, errors propagate to the caller."""
    return fn(event, context(name, region))
