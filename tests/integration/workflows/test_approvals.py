"""The approval engine through the ops API and its task handlers, on moto. The tests play the
state machine's part: they call the task handlers in the order the ASL does (next, wait with a
token, decide through the API, next ...), so each use case is seen as a staff member sees it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.stub import Stubber
from chalice.test import Client

from tests.integration.workflows.conftest import sfn_client
from tests.support.tokens import staff

CS = staff("demo-op", "cs-1", roles=("customer_service",))
CS2 = staff("demo-op", "cs-2", roles=("customer_service",))
FIN = staff("demo-op", "fin-1", roles=("finance",))
ADMIN = staff("demo-op", "admin-1", roles=("ops_admin",))
NOBODY = staff("demo-op", "plain-1", roles=())
OTHER_ADMIN = staff("other-op", "admin-9", roles=("ops_admin",))
TWO_LEVELS = {"levels": [{"role": "customer_service"}, {"role": "finance"}], "timeout_days": 2}


def now() -> datetime:
    return datetime.now(UTC)


def _post(client: Client, path: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
    return client.http.post(path, headers=headers, body=json.dumps(body))


def two_level_flow(client: Client, headers: dict[str, str] = ADMIN) -> None:
    answer = client.http.put("/v1/ops/flows/rule_change", headers=headers, body=json.dumps(TWO_LEVELS))
    assert answer.status_code == 200, answer.json_body


def create(client: Client, title: str = "grace 20 min") -> dict[str, Any]:
    answer = _post(
        client,
        "/v1/ops/approvals",
        CS,
        {
            "kind": "rule_change",
            "subject": "lot:demo-lot",
            "title": title,
            "context": {"change": {"grace": 20}},
        },
    )
    assert answer.status_code == 201, answer.json_body
    return dict(answer.json_body)


def machine_step(approval_id: str) -> dict[str, Any]:
    """What the machine does next: Next, then WaitForDecision with a fresh token (or Execute)."""
    from chalicelib.workflows import tasks

    nxt = tasks.next_step({"approval_id": approval_id}, now())
    if nxt["action"] == "wait":
        token = f"token-{uuid.uuid4().hex}"
        tasks.wait({"approval_id": approval_id, "level": nxt["level"], "token": token}, now())
        nxt["token"] = token
    elif nxt["action"] == "approved":
        nxt["executed"] = tasks.execute({"approval_id": approval_id}, now())
    return nxt


def decide(client: Client, approval_id: str, headers: dict[str, str], **body: Any) -> Any:
    return _post(client, f"/v1/ops/approvals/{approval_id}/decisions", headers, body)


def inbox_ids(client: Client, headers: dict[str, str]) -> list[str]:
    answer = client.http.get("/v1/ops/inbox", headers=headers)
    assert answer.status_code == 200, answer.json_body
    return [item["approval_id"] for item in answer.json_body["items"]]


def test_two_levels_approved_in_order_run_the_executor_and_keep_every_step(
    client: Client, machines: dict[str, str]
) -> None:
    two_level_flow(client)
    approval = create(client)
    ap = approval["approval_id"]
    assert approval["state"] == "in_progress" and approval["execution"]["name"] == ap
    assert approval["execution"]["console_url"].endswith(approval["execution"]["arn"])
    described = sfn_client().describe_execution(executionArn=approval["execution"]["arn"])
    assert described["name"] == ap and json.loads(described["input"]) == {"approval_id": ap}

    assert machine_step(ap)["level"] == 0
    assert ap in inbox_ids(client, CS) and ap not in inbox_ids(client, FIN)
    assert ap in inbox_ids(client, ADMIN)  # an ops_admin holds every role
    assert ap not in inbox_ids(client, OTHER_ADMIN)
    first = decide(client, ap, CS, level=0, decision="approve", comment="ok", attachments=["s3://x/1.pdf"])
    assert first.status_code == 200, first.json_body
    assert first.json_body["level"] == 1 and first.json_body["waiting"] is False
    assert ap not in inbox_ids(client, CS)

    assert machine_step(ap)["level"] == 1
    assert ap in inbox_ids(client, FIN)
    done = decide(client, ap, FIN, level=1, decision="approve")
    assert done.status_code == 200 and done.json_body["state"] == "approved"
    executed = machine_step(ap)
    assert executed["action"] == "approved"
    assert executed["executed"]["result"]["change"] == {"grace": 20}

    view = client.http.get(f"/v1/ops/approvals/{ap}", headers=FIN).json_body
    decisions = [(s["by"], s["level"], s["decision"]) for s in view["steps"] if s["kind"] == "decision"]
    assert decisions == [("cs-1", 0, "approve"), ("fin-1", 1, "approve")]
    assert [s["kind"] for s in view["steps"]] == ["submitted", "started", "decision", "decision", "executed"]
    assert view["steps"][2]["comment"] == "ok" and view["steps"][2]["attachments"] == ["s3://x/1.pdf"]
    assert view["result"]["recorded"] is True
    # A retried execute task does not run the action twice.
    assert machine_step(ap)["executed"]["result"] == view["result"]


def test_a_rejection_at_the_first_level_ends_it_and_needs_a_reason(
    client: Client, machines: dict[str, str]
) -> None:
    two_level_flow(client)
    ap = create(client)["approval_id"]
    machine_step(ap)
    no_reason = decide(client, ap, CS, level=0, decision="reject")
    assert no_reason.status_code == 400 and no_reason.json_body["code"] == "reason_required"
    rejected = decide(client, ap, CS, level=0, decision="reject", reason="not now")
    assert rejected.status_code == 200 and rejected.json_body["state"] == "rejected"
    assert machine_step(ap)["action"] == "rejected"
    late = decide(client, ap, FIN, level=1, decision="approve")
    assert late.status_code == 409 and late.json_body["code"] == "approval_finished"
    assert ap not in inbox_ids(client, CS) + inbox_ids(client, FIN)


def test_a_second_click_is_idempotent_and_other_decisions_are_409_or_403(
    client: Client, machines: dict[str, str]
) -> None:
    two_level_flow(client)
    ap = create(client)["approval_id"]
    machine_step(ap)
    wrong_role = decide(client, ap, FIN, level=0, decision="approve")
    assert wrong_role.status_code == 403 and wrong_role.json_body["code"] == "not_an_approver"
    assert decide(client, ap, CS, level=0, decision="approve").status_code == 200
    again = decide(client, ap, CS, level=0, decision="approve")
    assert again.status_code == 200 and again.json_body["level"] == 1
    steps = [s for s in again.json_body["steps"] if s["kind"] == "decision"]
    assert len(steps) == 1
    stale = decide(client, ap, CS2, level=0, decision="approve")
    assert stale.status_code == 409 and stale.json_body["code"] == "stale_level"
    early = decide(client, ap, FIN, level=1, decision="approve")  # level 1 is not waiting yet
    assert early.status_code == 409 and early.json_body["code"] == "not_waiting"
    other = decide(client, ap, OTHER_ADMIN, level=0, decision="approve")
    assert other.status_code == 404


def test_a_decision_whose_execution_has_ended_is_409_and_undone_then_resume_continues(
    client: Client, machines: dict[str, str]
) -> None:
    from chalicelib.workflows import sfn

    two_level_flow(client)
    ap = create(client)["approval_id"]
    machine_step(ap)
    with Stubber(sfn.client()) as stub:
        stub.add_client_error("send_task_success", "TaskDoesNotExist", "no such task")
        dead = decide(client, ap, CS, level=0, decision="approve")
    assert dead.status_code == 409 and dead.json_body["code"] == "execution_finished"
    view = client.http.get(f"/v1/ops/approvals/{ap}", headers=CS).json_body
    assert (view["state"], view["level"], view["waiting"]) == ("in_progress", 0, False)
    assert [s["kind"] for s in view["steps"]][-2:] == ["decision", "reverted"]
    assert ap not in inbox_ids(client, CS)

    sfn_client().stop_execution(executionArn=view["execution"]["arn"])
    assert client.http.post(f"/v1/ops/approvals/{ap}/resume", headers=CS, body=b"{}").status_code == 403
    resumed = client.http.post(f"/v1/ops/approvals/{ap}/resume", headers=ADMIN, body=b"{}")
    assert resumed.status_code == 200, resumed.json_body
    assert resumed.json_body["execution"]["name"] == f"{ap}.1"
    machine_step(ap)
    assert decide(client, ap, CS, level=0, decision="approve").status_code == 200
    assert client.http.get(f"/v1/ops/approvals/{ap}", headers=CS).json_body["level"] == 1


def test_resume_refuses_while_the_execution_runs_and_after_the_end(
    client: Client, machines: dict[str, str]
) -> None:
    ap = create(client)["approval_id"]  # the default rule_change flow: one ops_admin level
    running = client.http.post(f"/v1/ops/approvals/{ap}/resume", headers=ADMIN, body=b"{}")
    assert running.status_code == 409 and running.json_body["code"] == "execution_running"
    machine_step(ap)
    assert decide(client, ap, ADMIN, level=0, decision="reject", reason="no").status_code == 200
    finished = client.http.post(f"/v1/ops/approvals/{ap}/resume", headers=ADMIN, body=b"{}")
    assert finished.status_code == 409 and finished.json_body["code"] == "approval_finished"


def test_a_wait_past_its_days_escalates_and_waits_again(client: Client, machines: dict[str, str]) -> None:
    from chalicelib.workflows import tasks

    two_level_flow(client)
    ap = create(client)["approval_id"]
    assert machine_step(ap)["timeout_seconds"] == 2 * 86400
    assert tasks.escalate({"approval_id": ap, "level": 0}, now())["escalated"] is True
    assert tasks.escalate({"approval_id": ap, "level": 1}, now())["escalated"] is False  # not its level
    items = client.http.get("/v1/ops/inbox", headers=CS).json_body["items"]
    assert [(i["approval_id"], i["escalated"]) for i in items] == [(ap, True)]  # before it waits again
    machine_step(ap)  # waits again with a new token
    items = client.http.get("/v1/ops/inbox", headers=CS).json_body["items"]
    assert [(i["approval_id"], i["escalated"]) for i in items] == [(ap, True)]
    assert decide(client, ap, CS, level=0, decision="approve").status_code == 200
    view = client.http.get(f"/v1/ops/approvals/{ap}", headers=CS).json_body
    assert "escalated" in [s["kind"] for s in view["steps"]] and view["escalated"] is False


def test_a_wait_for_a_level_already_decided_answers_the_execution_at_once(
    client: Client, machines: dict[str, str]
) -> None:
    """A decision written but whose answer to the execution was lost: when the execution waits
    again (after its timeout) the wait task sends the recorded decision on the new token."""
    from chalicelib.workflows import sfn, tasks

    two_level_flow(client)
    ap = create(client)["approval_id"]
    machine_step(ap)
    assert decide(client, ap, CS, level=0, decision="approve").status_code == 200
    with Stubber(sfn.client()) as stub:
        stub.add_response(
            "send_task_success",
            {},
            {
                "taskToken": "t-2",
                "output": json.dumps(
                    {"by": "cs-1", "decision": "approve", "level": 0, "reason": None}, sort_keys=True
                ),
            },
        )
        answer = tasks.wait({"approval_id": ap, "level": 0, "token": "t-2"}, now())
        stub.assert_no_pending_responses()
    assert answer == {"approval_id": ap, "level": 0, "waiting": False, "answered": True}


def test_named_approvers_see_it_in_their_inbox_and_decide(client: Client, machines: dict[str, str]) -> None:
    flow = {"levels": [{"approvers": ["plain-1"]}], "timeout_days": 1}
    assert (
        client.http.put("/v1/ops/flows/rule_change", headers=ADMIN, body=json.dumps(flow)).status_code == 200
    )
    ap = create(client)["approval_id"]
    machine_step(ap)
    assert inbox_ids(client, NOBODY) == [ap] and ap not in inbox_ids(client, CS)
    assert decide(client, ap, CS, level=0, decision="approve").status_code == 403
    assert decide(client, ap, NOBODY, level=0, decision="approve").json_body["state"] == "approved"


def test_flow_templates_need_an_ops_admin_are_per_operator_and_checked(
    client: Client, machines: dict[str, str]
) -> None:
    default = client.http.get("/v1/ops/flows/rule_change", headers=ADMIN).json_body
    assert default["version"] == 0 and default["levels"] == [{"role": "ops_admin", "approvers": []}]
    assert client.http.get("/v1/ops/flows/rule_change", headers=CS).json_body["code"] == "role_required"
    assert client.http.get("/v1/ops/flows/nope", headers=ADMIN).status_code == 404
    saved = client.http.put(
        "/v1/ops/flows/rule_change", headers=ADMIN, body=json.dumps({**TWO_LEVELS, "version": 0})
    )
    assert saved.status_code == 200 and saved.json_body["version"] == 1
    stale = client.http.put(
        "/v1/ops/flows/rule_change", headers=ADMIN, body=json.dumps({**TWO_LEVELS, "version": 0})
    )
    assert stale.status_code == 409 and stale.json_body["code"] == "version_conflict"
    empty_level = client.http.put(
        "/v1/ops/flows/rule_change", headers=ADMIN, body=json.dumps({"levels": [{}], "timeout_days": 1})
    )
    assert empty_level.status_code == 400 and empty_level.json_body["code"] == "invalid_levels"
    bad_executor = client.http.put(
        "/v1/ops/flows/rule_change", headers=ADMIN, body=json.dumps({**TWO_LEVELS, "executor": "rm -rf"})
    )
    assert bad_executor.status_code == 409 and bad_executor.json_body["code"] == "unknown_executor"
    assert client.http.get("/v1/ops/flows/rule_change", headers=OTHER_ADMIN).json_body["version"] == 0


def test_refund_kinds_are_opened_by_their_workflow_and_a_flow_without_levels_is_approved_at_once(
    client: Client, machines: dict[str, str]
) -> None:
    from chalicelib.shared.db import transaction
    from chalicelib.workflows import engine

    refused = _post(client, "/v1/ops/approvals", CS, {"kind": "refund", "subject": "s", "title": "t"})
    assert refused.status_code == 409 and refused.json_body["code"] == "kind_not_direct"
    at = now()
    with transaction() as tx:
        opened = engine.open_in(
            tx,
            approval_id="rf-auto-1",
            kind="refund",
            operator_id="demo-op",
            subject="visit:v-1",
            title="overpayment",
            requested_by="system",
            levels=[],
            amount_fen=250,
            context={},
            machine="approval",
            now=at,
        )
    assert opened.state == "approved"
    assert engine.start("rf-auto-1", at) == "rf-auto-1"
    assert engine.start("rf-auto-1", at + timedelta(seconds=1)) == "rf-auto-1"  # started once
    assert engine.next_action("rf-auto-1")["action"] == "approved"
    with pytest.raises(Exception), transaction() as tx:  # noqa: B017 - the id exists: refused
        engine.open_in(
            tx,
            approval_id="rf-auto-1",
            kind="refund",
            operator_id="demo-op",
            subject="visit:v-1",
            title="again",
            requested_by="system",
            levels=None,
            amount_fen=250,
            context={},
            machine="approval",
            now=at,
        )


def test_the_task_functions_refuse_an_input_they_cannot_read(
    client: Client, machines: dict[str, str]
) -> None:
    """The functions the machines invoke, as Lambda calls them (the app's handler map): a bad
    input raises (the execution sees `Invalid`), an unknown approval `NotFound`."""
    from app import app
    from chalicelib.shared.errors import Invalid, NotFound
    from infra.local.runtime import context

    for name, event in (
        ("workflow_next", {}),
        ("workflow_wait", {"approval_id": "ap-1", "level": "0", "token": "t"}),
        ("workflow_escalate", {"approval_id": "ap-1", "level": -1}),
        ("workflow_execute", {"approval_id": ""}),
    ):
        with pytest.raises(Invalid):
            app.handler_map[name](event, context(name, "us-east-1"))
    with pytest.raises(NotFound):
        app.handler_map["workflow_next"]({"approval_id": "ap-none"}, context("workflow_next", "us-east-1"))


def test_a_draft_waits_for_its_requester_to_submit_it(client: Client, machines: dict[str, str]) -> None:
    two_level_flow(client)
    body = {"kind": "rule_change", "subject": "lot:demo-lot", "title": "draft", "submit": False}
    draft = _post(client, "/v1/ops/approvals", CS, body).json_body
    ap = draft["approval_id"]
    assert draft["state"] == "draft" and draft["execution"]["name"] is None
    assert [s["kind"] for s in draft["steps"]] == ["drafted"]
    early = decide(client, ap, CS, level=0, decision="approve")
    assert early.status_code == 409 and early.json_body["code"] == "approval_not_submitted"
    not_mine = client.http.post(f"/v1/ops/approvals/{ap}/submit", headers=CS2, body=b"{}")
    assert not_mine.status_code == 403 and not_mine.json_body["code"] == "not_the_requester"
    submitted = client.http.post(f"/v1/ops/approvals/{ap}/submit", headers=CS, body=b"{}")
    assert submitted.status_code == 200, submitted.json_body
    assert submitted.json_body["state"] == "in_progress" and submitted.json_body["execution"]["name"] == ap
    again = client.http.post(f"/v1/ops/approvals/{ap}/submit", headers=CS, body=b"{}")
    assert again.status_code == 200 and again.json_body["execution"]["runs"] == 1
    assert [s["kind"] for s in again.json_body["steps"]] == ["drafted", "submitted", "started"]
    machine_step(ap)
    assert ap in inbox_ids(client, CS)
