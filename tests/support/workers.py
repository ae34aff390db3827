"""How `make test` shares the suite between its pytest-xdist workers (`-n 2 --dist loadgroup`).

The tests that share a costly session fixture are one work unit each, so each runs on one worker
and its fixture is built once: the e2e suite with its local stack (in file order, so
`test_zz_books.py` still checks the books last), the README commands with their own stack, and
the CDK synthesis. Every other test file is a unit of its own; a worker with two tests or fewer
left is given the next unit: the groups first, the e2e suite (the longest) first of all.

xdist's own `loadgroup` cannot be used as it is: it groups by renaming node ids, which pytest 9
no longer reads, and its units are keyed by node id, while schemathesis gives each operation of
the contract fuzz the same node id (only one of them would run). This scheduler keeps the same
bookkeeping by collection index instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any

# Path prefix under the rootdir -> work unit (first match wins); everything else: one unit a file.
GROUPS = (
    ("tests/e2e/test_readme.py", "readme-stack"),
    ("tests/e2e/", "e2e-stack"),
    ("tests/infra/", "cdk-synth"),
)
FIRST = ("e2e-stack", "readme-stack", "cdk-synth")  # handed out first, the longest first
LOW_WATERMARK = 2  # a worker with this many tests or fewer left gets the next unit


def unit_of(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    for prefix, group in GROUPS:
        if path.startswith(prefix):
            return group
    return path


def units(collection: Sequence[str]) -> list[list[int]]:
    """The collection's indexes by unit: the groups first (in FIRST order), then one unit per
    file in collection order."""
    by_unit: dict[str, list[int]] = {}
    for index, nodeid in enumerate(collection):
        by_unit.setdefault(unit_of(nodeid), []).append(index)
    groups = [by_unit.pop(group) for group in FIRST if group in by_unit]
    return groups + list(by_unit.values())


class GroupScheduling:
    """An xdist scheduler (`xdist.scheduler.protocol.Scheduling`) handing out the units above."""

    def __init__(self, config: Any, log: Any) -> None:
        from xdist.workermanage import parse_tx_spec_config

        self.numnodes = len(parse_tx_spec_config(config))
        self.log = log.groupsched
        self.collection: list[str] | None = None
        self.queue: deque[list[int]] = deque()
        self.pending: dict[Any, list[int]] = {}  # worker -> indexes sent and not yet reported
        self.collections: dict[Any, list[str]] = {}

    @property
    def nodes(self) -> list[Any]:
        return list(self.pending)

    @property
    def collection_is_completed(self) -> bool:
        return len(self.collections) >= self.numnodes

    @property
    def tests_finished(self) -> bool:
        """As xdist's own schedulers: a worker's last test runs once it is told to shut down."""
        if not self.collection_is_completed or self.queue:
            return False
        return all(len(left) < 2 for left in self.pending.values())

    @property
    def has_pending(self) -> bool:
        return bool(self.queue) or any(self.pending.values())

    def add_node(self, node: Any) -> None:
        assert node not in self.pending
        self.pending[node] = []

    def add_node_collection(self, node: Any, collection: Sequence[str]) -> None:
        assert node in self.pending
        if self.collection is not None and list(collection) != self.collection:
            self.log(f"{node.gateway.id} collected other tests than the first workers")
            return
        self.collections[node] = list(collection)

    def mark_test_complete(self, node: Any, item_index: int, duration: float = 0) -> None:
        self.pending[node].remove(item_index)
        self._reschedule(node)

    def mark_test_pending(self, item: str) -> None:
        raise NotImplementedError

    def remove_pending_tests_from_node(self, node: Any, indices: Sequence[int]) -> None:
        raise NotImplementedError  # only work stealing asks for this

    def remove_node(self, node: Any) -> str | None:
        """A worker went away (crashed): the test it was running is the crash item, what it had
        left goes back to the front of the queue."""
        left = self.pending.pop(node)
        if not left or self.collection is None:
            return None
        if left[1:]:
            self.queue.appendleft(left[1:])
        for other in self.nodes:
            self._reschedule(other)
        return self.collection[left[0]]

    def schedule(self) -> None:
        assert self.collection_is_completed
        if self.collection is not None:  # a node added later
            for node in self.nodes:
                self._reschedule(node)
            return
        first, *others = self.collections.values()
        if any(other != first for other in others):
            self.log("**Different tests collected, aborting run**")
            return
        self.collection = first
        if not first:
            return
        self.queue.extend(units(first))
        for node in self.nodes[len(self.queue) :]:  # more workers than units
            self.pending.pop(node)
            node.shutdown()
        for node in self.nodes:
            self._assign(node)
        for node in self.nodes:
            self._reschedule(node)

    def _reschedule(self, node: Any) -> None:
        if node.shutting_down:
            return
        if not self.queue:
            node.shutdown()
            return
        if len(self.pending[node]) <= LOW_WATERMARK:
            self._assign(node)

    def _assign(self, node: Any) -> None:
        unit = self.queue.popleft()
        self.pending[node].extend(unit)
        node.send_runtest_some(unit)
