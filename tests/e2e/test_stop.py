"""A clean stop under load: with a backlog of captures queued in the rules bridge, Ctrl-C (SIGINT
to the terminal's process group) or SIGTERM (to the stack's process only, as a service manager
sends it) stops the stack and its child processes within 5 s."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import _stop, as_stack, launch
from tests.e2e.support import ENTRY_DEVICE, ENTRY_LANE, new_plate

pytestmark = pytest.mark.e2e

BACKLOG = 600
STOP_WITHIN = 5.0


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")  # exited (a zombie waits only for its reaper)


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_the_stack_stops_within_five_seconds_with_a_backlog(tmp_path: Path, how: str) -> None:
    state = tmp_path / "stack"
    state.mkdir()
    proc, info = launch(state)
    try:
        stack = as_stack(state, info)
        pids = dict(stack.pids or {})
        assert {"stack", "moto", "broker"} <= set(pids), pids
        with stack.device(ENTRY_DEVICE, ENTRY_LANE) as entry:
            for _ in range(BACKLOG):
                entry.capture(new_plate(), "in")
            time.sleep(0.3)  # the bridge has taken them; the handlers are far behind
            assert len(entry.commands) < BACKLOG * 2  # a backlog is still there
            started = time.monotonic()
            if how == "ctrl-c":
                os.killpg(proc.pid, signal.SIGINT)
            else:
                os.kill(proc.pid, signal.SIGTERM)
            with contextlib.suppress(Exception):
                proc.wait(timeout=STOP_WITHIN + 5)
            took = time.monotonic() - started
        assert proc.poll() is not None, "the stack is still running"
        assert took < STOP_WITHIN, f"stopped in {took:.1f} s"
        assert proc.returncode == 0, "the stop watchdog had to kill it"
        deadline = time.monotonic() + 1.0
        while not all(_gone(pid) for pid in pids.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(_gone(pid) for pid in pids.values()), pids
        assert not (state / "stack.json").exists()
    finally:
        _stop(proc)
