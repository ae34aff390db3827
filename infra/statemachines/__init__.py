"""The state machines' definitions: `infra/statemachines/<name>.asl.json` (Amazon States
Language), loaded by the CDK stack and by the local stack.

A definition names the app's Lambda functions by placeholder, `"${fn:<function name>}"` (the
Chalice `lambda_function` name, e.g. `workflow_next`); `definition(name, arn_of)` replaces each
by `arn_of(<function name>)`. Nothing else in a definition differs between the two runtimes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

DIR = Path(__file__).resolve().parent
SUFFIX = ".asl.json"
PLACEHOLDER = re.compile(r"\$\{fn:([a-z][a-z0-9_]*)\}")


def names() -> list[str]:
    """Every state machine: the file names without `.asl.json` ("approval", "refund", ...)."""
    return sorted(path.name[: -len(SUFFIX)] for path in DIR.glob(f"*{SUFFIX}"))


def text(name: str) -> str:
    return (DIR / f"{name}{SUFFIX}").read_text(encoding="utf-8")


def functions(name: str) -> list[str]:
    """The Lambda functions the definition invokes (its placeholders), sorted."""
    return sorted(set(PLACEHOLDER.findall(text(name))))


def _replace(value: Any, arn_of: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda match: arn_of(match.group(1)), value)
    if isinstance(value, dict):
        return {key: _replace(item, arn_of) for key, item in value.items()}
    if isinstance(value, list):
        return [_replace(item, arn_of) for item in value]
    return value


def definition(name: str, arn_of: Callable[[str], str]) -> dict[str, Any]:
    """The definition of `name` with every `${fn:...}` replaced by the function's ARN."""
    loaded: dict[str, Any] = json.loads(text(name))
    return _replace(loaded, arn_of)


def definition_json(name: str, arn_of: Callable[[str], str]) -> str:
    return json.dumps(definition(name, arn_of), ensure_ascii=False)
