"""Build the Lambda layer from requirements.lock: Linux x86_64 wheels for Python 3.11 into
layers/build/python, each checked against its locked hash. Needs the package registry; `make synth`
runs it when the layer is missing. chalice (its runtime is packaged with the app) and boto3 (in the
Lambda runtime) are left out, and so is whatever only they pull in."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "build"
LOCK = ROOT / "requirements.lock"
SKIP = frozenset({"chalice", "boto3"})
TOP_LEVEL = "-r requirements.txt"

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?==")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def locked_entries(text: str) -> dict[str, tuple[list[str], set[str]]]:
    """Each pinned package of a `uv pip compile --generate-hashes` lock: its requirement lines (pin
    and hashes) and the names it is required by (`# via` annotations, `-r requirements.txt` for a
    top-level requirement)."""
    entries: dict[str, tuple[list[str], set[str]]] = {}
    current: str | None = None
    in_via = False
    for line in text.splitlines():
        match = _PIN.match(line)
        if match:
            current, in_via = _name(match.group(1)), False
            entries[current] = ([line], set())
            continue
        if current is None or not line.strip():
            continue
        stripped = line.strip()
        if stripped.startswith("--hash="):
            entries[current][0].append(line)
        elif stripped.startswith("# via"):
            rest = stripped.removeprefix("# via").strip()
            in_via = not rest
            if rest:
                entries[current][1].add(rest)
        elif in_via and stripped.startswith("#   "):
            entries[current][1].add(stripped.removeprefix("#").strip())
        else:
            in_via = False
    return entries


def layer_requirements(text: str) -> str:
    """The lock minus SKIP and every package needed only by what is left out, hashes kept."""
    entries = locked_entries(text)
    unannotated = [name for name, (_lines, via) in entries.items() if not via]
    if unannotated:
        raise ValueError(f"requirements.lock has no `# via` annotations for {unannotated}: run `make lock`")
    dropped = set(SKIP)
    changed = True
    while changed:
        changed = False
        for name, (_lines, via) in entries.items():
            parents = {v if v.startswith("-") else _name(v) for v in via}
            if name not in dropped and TOP_LEVEL not in parents and parents <= dropped:
                dropped.add(name)
                changed = True
    kept = [lines for name, (lines, _via) in entries.items() if name not in dropped]
    return "\n".join(" \\\n".join(line.rstrip(" \\") for line in lines) for lines in kept) + "\n"


def build(target: Path = LAYER) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write(layer_requirements(LOCK.read_text()))
    subprocess.run(  # noqa: S603 - fixed arguments, our own lock file
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--require-hashes",
            "--platform",
            "manylinux2014_x86_64",
            "--only-binary=:all:",
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--target",
            str(target / "python"),
            "-r",
            handle.name,
        ],
        check=True,
    )
    return target


if __name__ == "__main__":
    print(build())
