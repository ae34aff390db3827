"""Unit tests run with the network blocked (pytest-socket): pure code needs no socket, and a test
that opens one fails with SocketBlockedError instead of quietly reaching a service."""

from __future__ import annotations

from pathlib import Path

import pytest

# Powertools' Tracer builds the X-Ray recorder when the app's observability module is imported,
# and the recorder opens its UDP emitter socket then (it sends nothing: tracing is disabled in
# tests). Imported here, before sockets are blocked, so a unit test of a handler module does not
# depend on whether another test imported it first.
import chalicelib.shared.observability  # noqa: F401

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Called with every collected item of the session: only those under tests/unit are marked.
    for item in items:
        if UNIT in item.path.resolve().parents:
            item.add_marker(pytest.mark.disable_socket)
