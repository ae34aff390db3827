"""The stack synthesized once for all template tests (it takes a while)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, Any], Path]:
    from infra.aws.synth import build

    work = tmp_path_factory.mktemp("synth")
    # The layer's contents (wheels built by `make synth` from requirements.txt) are not what these
    # tests check; an empty layer directory keeps the synthesis offline.
    (work / "layer" / "python").mkdir(parents=True)
    _app, stack = build(work / "cdk.out", work / "layer", stage="test")
    template_path = work / "cdk.out" / f"{stack.stack_name}.template.json"
    return stack, json.loads(template_path.read_text()), template_path
