"""After the e2e suite (this module runs last): the ledger's scheduled check, run against the
local stack's tables exactly as its scheduler runs it, finds no breach in the books the suite
wrote (payments, charge sessions, wallets)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.e2e.support import ROOT, Stack

CHECK = (
    "import json; from chalicelib.ledger import checks, journal; "
    "print(json.dumps({'postings': sum(1 for _ in journal.scan_all()), "
    "'breaches': [b.__dict__ for b in checks.run()]}))"
)


pytestmark = pytest.mark.e2e


def test_the_books_hold_after_the_suite(stack: Stack) -> None:
    info = json.loads((stack.log.parent / "stack.json").read_text(encoding="utf-8"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PARKCHARGE_", "POWERTOOLS_"))}
    env.update(
        {
            "AWS_ENDPOINT_URL": info["aws_endpoint_url"],
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "PARKCHARGE_STAGE": "local",
            "PARKCHARGE_TABLE_PREFIX": "parkcharge-local-",
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
    )
    done = subprocess.run(
        [sys.executable, "-c", CHECK],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["postings"] > 0
    assert result["breaches"] == []
