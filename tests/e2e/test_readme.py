"""Every by-hand command the README and infra/local/README.md show is run here, as written, against
a local stack: the fenced `sh`/`bash` blocks are read from the files, the API's address is the
stack's, and each command runs with subprocess in a directory where `.local` is that stack's state
dir (so `make token`, the simulators and `.local/tokens.json` find it as they would after `make
run`). Each must exit 0 with a sensible answer. `make run` and `make test` are not run: the stack
is `make run`'s own program, and `make test` is what runs this.

The stack is a second instance of the e2e one (same program, own ports and state), because the
simulators connect as the demo devices, whose client ids the session's gate fixtures hold."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import _clean_env, _log_tail, _stop, _wait_until_ready
from tests.e2e.support import ROOT

pytestmark = pytest.mark.e2e

DOCS = [ROOT / "README.md", ROOT / "infra" / "local" / "README.md"]
README_API = "http://127.0.0.1:8000"
COMMAND_TIMEOUT = 120
# Long-running commands, not run here (see the module's docstring).
SKIPPED = {"make run", "make test"}
# Answers that mean "the command is fine, there is just nothing to act on": the demo car has left.
FINE_CODES = {"no_open_visit"}
FREE_PORTS = [
    *("--api-port", "0", "--mqtt-port", "0", "--moto-port", "0", "--pay-port", "0"),
    *("--wechat-port", "0", "--alipay-port", "0"),
]
JWT = re.compile(r"^[\w-]+\.[\w-]+\.[\w-]+$")


def blocks(path: Path) -> list[list[str]]:
    """The commands of each fenced sh/bash block, comments stripped, in the order they appear."""
    found = re.findall(r"^```(?:sh|bash)\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)
    commands = []
    for block in found:
        joined = re.sub(r"\\\n\s*", " ", block)  # a line ending in a backslash goes on
        lines = [re.sub(r"\s+#.*$", "", line).strip() for line in joined.splitlines()]
        commands.append([line for line in lines if line and not line.startswith("#")])
    return commands


def test_the_documents_show_commands() -> None:
    shown = [c for path in DOCS for block in blocks(path) for c in block]
    assert {"make run", "make test"} <= set(shown)
    assert any(c.startswith("curl") for c in shown) and any("make token" in c for c in shown)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A local stack, and a directory that looks like the checkout with that stack's `.local`."""
    state = tmp_path_factory.mktemp("readme-stack")
    log = state / "stack.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local", "--state-dir", str(state), *FREE_PORTS],
            cwd=ROOT,
            env=_clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        info = _wait_until_ready(proc, state, log)
        work = tmp_path_factory.mktemp("readme-checkout")
        for entry in ROOT.iterdir():
            if entry.name not in (".local", ".git"):
                (work / entry.name).symlink_to(entry)
        (work / ".local").symlink_to(state)
        yield work, info["api_url"]
    finally:
        _stop(proc)
        if proc.returncode not in (0, -15, None):
            print(_log_tail(log))


def run(command: str, prelude: list[str], work: Path, api: str) -> str:
    script = "\n".join(["set -e", *prelude, command.replace(README_API, api)])
    env = _clean_env()
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):  # as from a shell, not from make
        env.pop(name, None)
    env["PATH"] = f"{ROOT / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"  # `python` as in the venv
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, (
        f"{command}\nexit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    )
    return done.stdout


def check_answer(command: str, out: str) -> None:
    if command.startswith("curl"):
        body = json.loads(out)
        assert body.get("code") is None or body["code"] in FINE_CODES, (command, body)
        if "/v1/driver/visits" in command:
            assert isinstance(body["visits"], list) and body["visits"], (command, body)
    elif "make token" in command:
        assert any(JWT.match(line.strip()) for line in out.splitlines()), (command, out)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_command_the_document_shows_runs(doc: Path, workdir: tuple[Path, str]) -> None:
    work, api = workdir
    ran = 0
    for block in blocks(doc):
        prelude: list[str] = []
        for command in block:
            if command in SKIPPED:
                continue
            if re.match(r"^[A-Z_]+=", command):  # a variable for the block's next commands
                prelude.append(command)
                run(command, prelude[:-1], work, api)
                continue
            check_answer(command, run(command, prelude, work, api))
            ran += 1
    assert ran > 0
