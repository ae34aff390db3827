"""The published contract fuzzed against the local stack: schemathesis generates requests from
the OpenAPI document for every operation (a fixed number of examples each, deterministic, TRACE
excluded), authenticated as a staff member of an operator of its own for /v1/ops/, as a merchant's
super admin for /v1/merchant/ and as a driver elsewhere, and fails on any 5xx, any status the
document does not list for the operation, and any response that does not match its schema or
content type."""

from __future__ import annotations

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import openapi_document
from tests.e2e.support import Stack

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = 20
STATUSES: dict[int, int] = {}  # what the run answered, printed at the end (-s) for the record
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]

schema = schemathesis.openapi.from_dict(openapi_document()).exclude(method="TRACE")
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE], max_examples=MAX_EXAMPLES, deterministic=True
)


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    staff = stack.token("contract-staff", ["staff", "ops_admin"], "demo-op")
    # A merchant at the demo lot with its super admin, so /v1/merchant/ is fuzzed past the door.
    ops = {"Authorization": f"Bearer {staff}"}
    made = requests.post(
        stack.api + "/v1/ops/merchants",
        json={"lot_id": "demo-lot", "name": "contract"},
        headers=ops,
        timeout=15,
    )
    assert made.status_code == 201, made.text
    joined = requests.post(
        f"{stack.api}/v1/ops/merchants/{made.json()['merchant_id']}/members",
        json={"user_id": "contract-merchant", "role": "super_admin"},
        headers=ops,
        timeout=15,
    )
    assert joined.status_code in (201, 409), joined.text  # 409: a run before added the person
    return {
        # The fuzz's staff belongs to an operator no other test uses: what it sets at the
        # operator's level (the refund policy, flow templates) changes nobody else's settings.
        "staff": stack.token("contract-staff", ["staff", "ops_admin"], "contract-op"),
        "driver": stack.token("contract-driver", ["driver"]),
        "merchant": stack.token("contract-merchant", ["merchant"]),
    }


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


def test_the_stack_serves_the_document_the_fuzzing_uses(stack: Stack) -> None:
    served = requests.get(stack.api + "/v1/openapi.json", timeout=10)
    assert served.status_code == 200 and served.json() == openapi_document()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_its_contract(
    case: schemathesis.Case, stack: Stack, tokens: dict[str, str], session: requests.Session
) -> None:
    if case.method.upper() != case.operation.method.upper():
        # Negative generation (GenerationMode.NEGATIVE) also tries methods HTTP servers do not know
        # (QUERY): the local server answers those itself with 501 before the app sees them, as
        # API Gateway does with its own answer. Not the app's contract.
        return
    role = "driver"
    if case.path.startswith("/v1/ops/"):
        role = "staff"
    elif case.path.startswith("/v1/merchant/"):
        role = "merchant"
    headers = (
        {"Authorization": f"Bearer {tokens[role]}"} if case.operation.definition.raw.get("security") else {}
    )
    response = case.call_and_validate(
        base_url=stack.api, session=session, headers=headers, checks=CHECKS, timeout=15
    )
    STATUSES[response.status_code] = STATUSES.get(response.status_code, 0) + 1


def test_the_fuzzing_reached_both_success_and_refusals() -> None:
    """Runs after the operations (same module, declaration order): the run was not all 401s."""
    print("contract run statuses:", dict(sorted(STATUSES.items())))
    assert any(200 <= s < 300 for s in STATUSES) and any(400 <= s < 500 for s in STATUSES)
