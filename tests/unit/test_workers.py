"""How `make test` shares the suite between its two workers (tests/support/workers.py): the e2e
suite on one worker in file order, the README's stack and the CDK synthesis each on one, every
other file as a unit; every collected test runs once, also the contract fuzz's operations, which
share one node id."""

from __future__ import annotations

from typing import Any

from tests.support.workers import GroupScheduling, units

COLLECTION = [
    "tests/e2e/test_charging.py::test_a",
    "tests/e2e/test_contract.py::test_the_api_keeps_its_contract",
    "tests/e2e/test_contract.py::test_the_api_keeps_its_contract",
    "tests/e2e/test_contract.py::test_the_api_keeps_its_contract",
    "tests/e2e/test_readme.py::test_commands",
    "tests/e2e/test_zz_books.py::test_books",
    "tests/infra/test_stack.py::test_template",
    "tests/infra/test_state_machines.py::test_definitions",
    "tests/integration/parking/test_gate_flow.py::test_entry",
    "tests/integration/parking/test_gate_flow.py::test_exit",
    "tests/unit/test_money.py::test_parse",
]


def test_the_groups_come_first_then_one_unit_a_file() -> None:
    assert units(COLLECTION) == [[0, 1, 2, 3, 5], [4], [6, 7], [8, 9], [10]]


class Node:
    def __init__(self, name: str) -> None:
        self.name = name
        self.sent: list[int] = []
        self.shutting_down = False

    def send_runtest_some(self, indexes: list[int]) -> None:
        self.sent.extend(indexes)

    def shutdown(self) -> None:
        self.shutting_down = True


class Config:
    def getvalue(self, name: str) -> Any:
        return {"tx": ["2*popen"]}[name]


def _scheduled() -> tuple[GroupScheduling, Node, Node]:
    scheduler = GroupScheduling(Config(), type("Log", (), {"groupsched": print})())
    gw0, gw1 = Node("gw0"), Node("gw1")
    for node in (gw0, gw1):
        scheduler.add_node(node)
        scheduler.add_node_collection(node, COLLECTION)
    assert scheduler.collection_is_completed
    scheduler.schedule()
    return scheduler, gw0, gw1


def _run(scheduler: GroupScheduling, *nodes: Node) -> None:
    """Each worker runs what it was sent in order; its last test only once told to stop (a test
    runs when the worker knows the next one)."""
    for _ in range(len(COLLECTION) * 2):
        ran = False
        for node in nodes:
            left = scheduler.pending[node]
            if len(left) > 1 or (left and node.shutting_down):
                scheduler.mark_test_complete(node, left[0])
                ran = True
        if not ran:
            return
    raise AssertionError("the run did not end")


def test_two_workers_run_every_test_once_and_are_told_to_stop() -> None:
    scheduler, gw0, gw1 = _scheduled()
    assert gw0.sent == [0, 1, 2, 3, 5]  # the e2e suite, the books last
    assert gw1.sent[:1] == [4]
    _run(scheduler, gw0, gw1)
    assert scheduler.tests_finished and not scheduler.has_pending
    assert gw0.shutting_down and gw1.shutting_down
    assert sorted(gw0.sent + gw1.sent) == list(range(len(COLLECTION)))


def test_a_crashed_workers_tests_go_to_the_other() -> None:
    scheduler, gw0, gw1 = _scheduled()
    scheduler.mark_test_complete(gw0, 0)
    assert scheduler.remove_node(gw0) == COLLECTION[1]  # the test it was running
    _run(scheduler, gw1)
    assert {2, 3, 5} <= set(gw1.sent) and not scheduler.has_pending
