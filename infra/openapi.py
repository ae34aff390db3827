"""`make openapi`: write the API's OpenAPI 3.1 document, generated from the routes and their
models, to docs/openapi.json (committed; a test fails when it is stale)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "openapi.json"


def render() -> str:
    from app import openapi_document

    return json.dumps(openapi_document(), ensure_ascii=False, indent=2) + "\n"


def main() -> None:
    text = render()
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)} ({len(text)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
