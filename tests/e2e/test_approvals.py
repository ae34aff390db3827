"""The approval engine through the local stack: moto runs infra/statemachines/approval.asl.json,
its Lambda tasks reach the app's handlers, and staff decide through the ops API with their own
tokens. The execution is named by the approval id and its history shows the decisions."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import requests

from tests.e2e.conftest import _stop, as_stack, launch
from tests.e2e.support import DEMO_OPERATOR, Api, Stack

pytestmark = pytest.mark.e2e

REGION = "us-east-1"
DEADLINE = 30.0
TWO_LEVELS: dict[str, Any] = {
    "levels": [{"role": "customer_service"}, {"role": "finance"}],
    "timeout_days": 3,
}


def _sfn(stack: Stack) -> Any:
    return boto3.client(
        "stepfunctions",
        endpoint_url=stack.aws_endpoint_url,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def _staff(stack: Stack, role: str) -> Api:
    sub = f"e2e-{role}-{uuid.uuid4().hex[:8]}"
    return Api(stack.api, stack.token(sub, ["staff", role], operator_id=DEMO_OPERATOR))


def _until(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + DEADLINE
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {DEADLINE:.0f} s")
        time.sleep(0.2)


def _in_inbox(api: Api, approval_id: str) -> bool:
    answer = api.get("/v1/ops/inbox")
    assert answer.status_code == 200, answer.text
    return approval_id in [item["approval_id"] for item in answer.json()["items"]]


def _decide(api: Api, approval_id: str, **body: Any) -> requests.Response:
    return api.post(f"/v1/ops/approvals/{approval_id}/decisions", body)


def _status(sfn: Any, arn: str) -> str:
    return str(sfn.describe_execution(executionArn=arn)["status"])


def _finished(sfn: Any, arn: str) -> str | None:
    status = _status(sfn, arn)
    return None if status == "RUNNING" else status


@pytest.fixture
def flow(stack: Stack) -> dict[str, Api]:
    """Staff of the demo operator (one token per role) and the two-level rule-change flow."""
    people = {role: _staff(stack, role) for role in ("customer_service", "finance", "ops_admin")}
    saved = people["ops_admin"].session.put(
        stack.api + "/v1/ops/flows/rule_change", json=TWO_LEVELS, timeout=15
    )
    assert saved.status_code == 200, saved.text
    return people


def _create(api: Api) -> dict[str, Any]:
    created = api.post(
        "/v1/ops/approvals",
        {
            "kind": "rule_change",
            "subject": "lot:demo-lot",
            "title": "grace period 20 minutes",
            "context": {"change": {"grace_minutes": 20}},
        },
    )
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_two_levels_approved_by_two_people_end_the_execution_named_by_the_approval(
    stack: Stack, flow: dict[str, Api]
) -> None:
    sfn = _sfn(stack)
    cs, finance = flow["customer_service"], flow["finance"]
    approval = _create(cs)
    ap, arn = approval["approval_id"], approval["execution"]["arn"]
    assert approval["execution"]["name"] == ap

    _until("customer service sees it", lambda: _in_inbox(cs, ap))
    assert not _in_inbox(finance, ap)
    first = _decide(cs, ap, level=0, decision="approve", comment="fine by me")
    assert first.status_code == 200, first.text
    # A second click on the same decision changes nothing.
    again = _decide(cs, ap, level=0, decision="approve")
    assert again.status_code == 200
    assert len([s for s in again.json()["steps"] if s["kind"] == "decision"]) == 1

    _until("finance sees it", lambda: _in_inbox(finance, ap))
    second = _decide(finance, ap, level=1, decision="approve", attachments=["approvals/ap/quote.pdf"])
    assert second.status_code == 200, second.text
    assert _until("the execution ends", lambda: _finished(sfn, arn)) == "SUCCEEDED"

    view = cs.get(f"/v1/ops/approvals/{ap}").json()
    assert view["state"] == "approved" and view["result"]["change"] == {"grace_minutes": 20}
    assert [(s["level"], s["decision"]) for s in view["steps"] if s["kind"] == "decision"] == [
        (0, "approve"),
        (1, "approve"),
    ]
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    outputs = [
        json.loads(e["taskSucceededEventDetails"]["output"])
        for e in events
        if e["type"] == "TaskSucceeded" and "waitForTaskToken" in e["taskSucceededEventDetails"]["resource"]
    ]
    assert [(o["level"], o["decision"]) for o in outputs] == [(0, "approve"), (1, "approve")]
    late = _decide(finance, ap, level=1, decision="reject", reason="too late")
    assert late.status_code == 409 and late.json()["code"] == "approval_finished"


def test_a_rejection_at_the_first_level_ends_it(stack: Stack, flow: dict[str, Api]) -> None:
    sfn = _sfn(stack)
    cs = flow["customer_service"]
    approval = _create(cs)
    ap = approval["approval_id"]
    _until("customer service sees it", lambda: _in_inbox(cs, ap))
    rejected = _decide(cs, ap, level=0, decision="reject", reason="the lot's rules say 15")
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    assert _until("the execution ends", lambda: _finished(sfn, approval["execution"]["arn"])) == "SUCCEEDED"
    assert not _in_inbox(flow["finance"], ap)
    finished = _decide(flow["finance"], ap, level=1, decision="approve")
    assert finished.status_code == 409 and finished.json()["code"] == "approval_finished"


def test_a_stopped_execution_is_resumed_from_the_records(stack: Stack, flow: dict[str, Api]) -> None:
    sfn = _sfn(stack)
    cs, finance, admin = flow["customer_service"], flow["finance"], flow["ops_admin"]
    approval = _create(cs)
    ap, arn = approval["approval_id"], approval["execution"]["arn"]
    _until("customer service sees it", lambda: _in_inbox(cs, ap))
    assert _decide(cs, ap, level=0, decision="approve").status_code == 200
    _until("finance sees it", lambda: _in_inbox(finance, ap))

    sfn.stop_execution(executionArn=arn)
    assert _until("the execution stops", lambda: _finished(sfn, arn)) == "ABORTED"
    dead = _decide(finance, ap, level=1, decision="approve")
    assert dead.status_code == 409 and dead.json()["code"] == "execution_finished"
    view = cs.get(f"/v1/ops/approvals/{ap}").json()
    assert (view["state"], view["level"]) == ("in_progress", 1)

    resumed = admin.post(f"/v1/ops/approvals/{ap}/resume", {})
    assert resumed.status_code == 200, resumed.text
    execution = resumed.json()["execution"]
    assert execution["name"] == f"{ap}.1" and execution["runs"] == 2
    _until("finance sees it again", lambda: _in_inbox(finance, ap))
    assert _decide(finance, ap, level=1, decision="approve").status_code == 200
    assert _until("the resumed execution ends", lambda: _finished(sfn, execution["arn"])) == "SUCCEEDED"
    view = cs.get(f"/v1/ops/approvals/{ap}").json()
    assert view["state"] == "approved" and view["result"]["recorded"] is True
    decisions = [(s["level"], s["by"]) for s in view["steps"] if s["kind"] == "decision"]
    assert len(decisions) == 3 and [s["kind"] for s in view["steps"]].count("reverted") == 1


@pytest.fixture(scope="module")
def short_days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A second local stack whose approval "day" lasts 2 s, so a wait times out while we watch."""
    state = tmp_path_factory.mktemp("short-days-stack")
    proc, info = launch(state, "--approval-day-seconds", "2")
    try:
        yield as_stack(state, info)
    finally:
        _stop(proc)


def test_a_wait_past_its_days_escalates_on_the_machine_and_waits_again(short_days: Stack) -> None:
    """moto runs the wait with TimeoutSecondsPath; States.Timeout is caught by Escalate, which
    marks the approval escalated, and the machine waits again: the decision still ends it."""
    stack = short_days
    sfn = _sfn(stack)
    cs, admin = _staff(stack, "customer_service"), _staff(stack, "ops_admin")
    one_day: dict[str, Any] = {"levels": [{"role": "customer_service"}], "timeout_days": 1}
    assert (
        admin.session.put(stack.api + "/v1/ops/flows/rule_change", json=one_day, timeout=15).status_code
        == 200
    )
    approval = _create(cs)
    ap = approval["approval_id"]

    def escalated() -> bool:
        view = cs.get(f"/v1/ops/approvals/{ap}").json()
        return bool(view["escalated"]) and view["waiting"]

    _until("the wait times out and the machine waits again", escalated)
    items = {i["approval_id"]: i for i in cs.get("/v1/ops/inbox").json()["items"]}
    assert items[ap]["escalated"] is True
    assert _decide(cs, ap, level=0, decision="approve").status_code == 200
    assert _until("the execution ends", lambda: _finished(sfn, approval["execution"]["arn"])) == "SUCCEEDED"
    events = sfn.get_execution_history(executionArn=approval["execution"]["arn"], maxResults=1000)["events"]
    assert any(e["type"] == "TaskTimedOut" for e in events)
    kinds = [s["kind"] for s in cs.get(f"/v1/ops/approvals/{ap}").json()["steps"]]
    assert "escalated" in kinds and kinds[-2:] == ["decision", "executed"]
