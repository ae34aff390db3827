"""Unit tests run with the network blocked (pytest-socket): pure code needs no socket, and a test
that opens one fails with SocketBlockedError instead of quietly reaching a service."""

from __future__ import annotations

from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Called with every collected item of the session: only those under tests/unit are marked.
    for item in items:
        if UNIT in item.path.resolve().parents:
            item.add_marker(pytest.mark.disable_socket)
