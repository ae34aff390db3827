"""Build the Lambda layer from requirements.txt: Linux x86_64 wheels for Python 3.11 into
layers/build/python. Needs the package registry; `make synth` runs it when the layer is missing.
chalice (its runtime is packaged with the app) and boto3 (in the Lambda runtime) are left out."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "build"
SKIP = ("chalice", "boto3")


def runtime_requirements() -> list[str]:
    lines = []
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        requirement = line.split("#", 1)[0].strip()
        if requirement and not requirement.lower().startswith(SKIP):
            lines.append(requirement)
    return lines


def build(target: Path = LAYER) -> Path:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(runtime_requirements()) + "\n")
    subprocess.run(  # noqa: S603 - fixed arguments, our own requirements file
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
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
