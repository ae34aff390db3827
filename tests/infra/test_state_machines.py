"""The workflows' state machines in the AWS stack: one per infra/statemachines/*.asl.json, its
definition the file's with every function placeholder replaced by the app's function, its role
invoking exactly those functions, logged and traced, the API allowed to drive it, and alarms on
failed executions and escalated approvals. The same definitions load for the local stack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra import statemachines

pytestmark = pytest.mark.infra

Synth = tuple[Any, dict[str, Any], Path]


def _resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _definition(machine: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The machine's definition with each function reference (Fn::GetAtt <fn>.Arn) as `<fn>`."""
    body = machine["Properties"]["DefinitionString"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    text, referenced = "", set()
    for part in parts:
        if isinstance(part, str):
            text += part
        else:
            logical = part["Fn::GetAtt"][0]
            referenced.add(logical)
            text += f"fn:{logical}"
    return json.loads(text), referenced


def _logical(name: str) -> str:
    return "".join(p.title() for p in name.split("_"))


def test_every_definition_loads_with_its_functions_for_both_runtimes() -> None:
    assert "approval" in statemachines.names()
    for name in statemachines.names():
        assert statemachines.functions(name), name
        loaded = statemachines.definition(name, lambda fn: f"arn:aws:lambda:r:1:function:x-{fn}")
        text = json.dumps(loaded)
        assert "${fn:" not in text and loaded["StartAt"] in loaded["States"], name
    approval = statemachines.definition("approval", lambda fn: fn)
    wait = approval["States"]["WaitForDecision"]
    assert wait["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert wait["TimeoutSecondsPath"] == "$.timeout_seconds"
    assert wait["Catch"][0]["ErrorEquals"] == ["States.Timeout"] and wait["Catch"][0]["Next"] == "Escalate"
    assert approval["States"]["Escalate"]["Next"] == "WaitForDecision"


def test_each_state_machine_runs_its_definition_with_a_role_invoking_only_its_functions(
    synthesized: Synth,
) -> None:
    template = synthesized[1]
    machines = _resources(template, "AWS::StepFunctions::StateMachine")
    assert len(machines) == len(statemachines.names())
    for name in statemachines.names():
        [machine] = [
            m for m in machines.values() if m["Properties"]["StateMachineName"] == f"parkcharge-test-{name}"
        ]
        definition, referenced = _definition(machine)
        expected = statemachines.definition(name, lambda fn: f"fn:{_logical(fn)}")
        assert definition == expected, name
        assert referenced == {_logical(fn) for fn in statemachines.functions(name)}
        props = machine["Properties"]
        assert props["TracingConfiguration"] == {"Enabled": True}
        assert props["LoggingConfiguration"]["Level"] == "ALL"
        role_id = props["RoleArn"]["Fn::GetAtt"][0]
        statements = [
            s
            for policy in _resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_id} in policy["Properties"]["Roles"]
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
        ]
        [invoke] = [s for s in statements if "lambda:InvokeFunction" in _as_list(s["Action"])]
        assert {r["Fn::GetAtt"][0] for r in _as_list(invoke["Resource"])} == referenced


def test_the_api_drives_the_machines_and_every_function_knows_their_arns(synthesized: Synth) -> None:
    from chalicelib.shared.settings import state_machine_env

    template = synthesized[1]
    functions = _resources(template, "AWS::Serverless::Function")
    for name in statemachines.names():
        for function in functions.values():
            assert state_machine_env(name) in function["Properties"]["Environment"]["Variables"]
    api_role = functions["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    actions = {
        a
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": api_role} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in _as_list(s["Action"])
    }
    assert {"states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure"} <= actions
    assert "states:DescribeExecution" in actions
    assert "states:StopExecution" not in actions


def test_failed_executions_and_escalations_raise_alarms(synthesized: Synth) -> None:
    template = synthesized[1]
    alarms = _resources(template, "AWS::CloudWatch::Alarm").values()
    names = {a["Properties"].get("MetricName") for a in alarms}
    assert {"ExecutionsFailed", "ApprovalEscalations"} <= names
    for alarm in alarms:
        if alarm["Properties"].get("MetricName") in ("ExecutionsFailed", "ApprovalEscalations"):
            assert alarm["Properties"]["AlarmActions"], alarm
