"""Container-lifetime caches. Every cache is a `TtlCache` created through `cache()`, so tests can
empty all of them at once with `reset_all()` (no module global is left behind between tests)."""

from __future__ import annotations

import math
import threading
import time
from typing import Any

_registry: list[TtlCache] = []
_registry_lock = threading.Lock()


class TtlCache:
    """Values kept for `ttl_seconds` (None: for the container's life), thread-safe."""

    def __init__(self, name: str, ttl_seconds: int | None) -> None:
        self.name = name
        self.ttl_seconds = ttl_seconds
        self._items: dict[Any, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Any, default: Any = None) -> Any:
        with self._lock:
            hit = self._items.get(key)
        if hit is None or hit[0] < time.monotonic():
            return default
        return hit[1]

    def put(self, key: Any, value: Any) -> None:
        expires = math.inf if self.ttl_seconds is None else time.monotonic() + self.ttl_seconds
        with self._lock:
            self._items[key] = (expires, value)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def cache(name: str, ttl_seconds: int | None) -> TtlCache:
    created = TtlCache(name, ttl_seconds)
    with _registry_lock:
        _registry.append(created)
    return created


def reset_all() -> None:
    """Empty every cache (tests, and after a configuration change in the same container)."""
    with _registry_lock:
        caches = list(_registry)
    for item in caches:
        item.clear()
