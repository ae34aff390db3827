"""Test-wide environment: set before any application module is imported, because table names
and settings are read at import time. Nothing here talks to anything but loopback.

`make test` runs the suite on 2 pytest-xdist workers, each a process of its own (its own temp
dirs, moto, caches and local stack); which tests go together: tests/support/workers.py."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from typing import Any

import pytest

from infra.local.keys import LOCAL_AUDIENCE, LOCAL_ISSUER, ensure_keys

_STATE = tempfile.mkdtemp(prefix="parkcharge-test-")
atexit.register(shutil.rmtree, _STATE, ignore_errors=True)
KEYS = ensure_keys(os.path.join(_STATE, "keys"))

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "PARKCHARGE_STAGE": "test",
        "PARKCHARGE_TABLE_PREFIX": "parkcharge-test-",
        "PARKCHARGE_DOWNLINK": "iot",
        "PARKCHARGE_JWT_ISSUER": LOCAL_ISSUER,
        "PARKCHARGE_JWT_AUDIENCE": LOCAL_AUDIENCE,
        "PARKCHARGE_JWKS_FILE": str(KEYS.jwks),
        "PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_FILE": str(KEYS.pay_public),
        "POWERTOOLS_SERVICE_NAME": "parkcharge",
        "POWERTOOLS_METRICS_NAMESPACE": "parkcharge",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
)
for _name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_name, None)


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """`--dist loadgroup` (`make test`): the groups of tests/support/workers.py."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from tests.support.workers import GroupScheduling

    return GroupScheduling(config, log)
