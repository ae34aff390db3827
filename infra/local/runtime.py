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


def share_dynamodb_session(max_pool_connections: int = 48) -> int:
    """Every PynamoDB connection of the app (one per model, and the transactions' one) builds its
    botocore client from one shared botocore session, now, on this thread.

    PynamoDB otherwise gives each connection its own session on whichever thread first uses it,
    and every session loads and keeps its own copy of the DynamoDB service model: tens of MB per
    connection, again for each worker thread that races to the first use, and the CPU to build
    them in the middle of the first captures. A Lambda container has one thread, so this changes
    nothing the app can observe. Returns the number of connections set up."""
    import botocore.session

    from chalicelib.shared.db import connection
    from chalicelib.tables import ALL_MODELS

    session = botocore.session.get_session()
    connections = [model._get_connection().connection for model in ALL_MODELS] + [connection()]
    for conn in connections:
        conn._local.session = session  # the session PynamoDB would create for this thread
        conn._max_pool_connections = max(conn._max_pool_connections, max_pool_connections)
        _ = conn.client  # created now, from the shared session, and kept by the connection
    return len(connections)


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
