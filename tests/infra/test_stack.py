"""The AWS stack as CloudFormation: synthesized offline once, then checked the way a reviewer
would (cfn-lint, cdk-nag's AwsSolutions rules) and against the single definitions it is built
from (the PynamoDB models, iot-rules/*.json)."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_cfn_lint_accepts_the_template(synthesized: tuple[Any, dict[str, Any], Path]) -> None:
    from cfnlint.api import lint_file

    matches = lint_file(synthesized[2])
    assert [str(m) for m in matches] == []


def test_cdk_nag_aws_solutions_finds_nothing_unexplained(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    from aws_cdk.assertions import Annotations, Match

    stack = synthesized[0]
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
    warnings = Annotations.from_stack(stack).find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))
    assert [f"{e.id}: {e.entry.data}" for e in errors] == []
    assert [f"{w.id}: {w.entry.data}" for w in warnings] == []


def test_every_model_has_its_table_with_the_same_keys_indexes_and_ttl(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    from chalicelib.tables import ALL_MODELS
    from infra.aws.tables import table_spec

    tables = {
        t["Properties"]["TableName"]: t["Properties"]
        for t in resources(synthesized[1], "AWS::DynamoDB::Table").values()
    }
    assert len(tables) == len(ALL_MODELS)
    for model in ALL_MODELS:
        spec = table_spec(model)
        props = tables[spec.table_name]  # the test stage's prefix is the tests' prefix
        keys = {k["AttributeName"]: k["KeyType"] for k in props["KeySchema"]}
        expected = {spec.hash_key.name: "HASH", **({spec.range_key.name: "RANGE"} if spec.range_key else {})}
        assert keys == expected, model.__name__
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i.name for i in spec.indexes}, model.__name__
        for index in spec.indexes:
            assert indexes[index.name]["Projection"]["ProjectionType"] == index.projection
        ttl = props.get("TimeToLiveSpecification", {})
        assert ttl.get("AttributeName") == spec.ttl_attribute, model.__name__
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_every_iot_rule_invokes_its_function_and_dead_letters_failures(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    template = synthesized[1]
    rules = {
        r["Properties"]["RuleName"]: r["Properties"]["TopicRulePayload"]
        for r in resources(template, "AWS::IoT::TopicRule").values()
    }
    permissions = [
        p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"].get("Principal") == "iot.amazonaws.com"
    ]
    queues = resources(template, "AWS::SQS::Queue")
    [(queue_id, queue)] = queues.items()
    assert queue["Properties"]["QueueName"] == "parkcharge-iot-dead-letters"
    for path in sorted((ROOT / "iot-rules").glob("*.json")):
        rule = json.loads(path.read_text())
        payload = rules[rule["ruleName"]]
        assert payload["Sql"] == rule["sql"]
        [action] = payload["Actions"]
        function_logical = action["Lambda"]["FunctionArn"]["Fn::GetAtt"][0]
        handler = template["Resources"][function_logical]["Properties"]["Handler"]
        module, _, attribute = handler.rpartition(".")
        assert attribute == rule["action"]["lambda"]
        assert callable(getattr(importlib.import_module(module), attribute))  # Lambda finds it
        assert payload["ErrorAction"]["Sqs"]["QueueUrl"] == {"Ref": queue_id}
        assert any(p["FunctionName"] == action["Lambda"]["FunctionArn"] for p in permissions), rule[
            "ruleName"
        ]


def test_every_iot_invoked_function_retries_twice_then_sends_to_the_dead_letter_queue(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    template = synthesized[1]
    [queue_id] = resources(template, "AWS::SQS::Queue")
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in resources(template, "AWS::Lambda::EventInvokeConfig").values()
    }
    invoked = {
        action["Lambda"]["FunctionArn"]["Fn::GetAtt"][0]
        for r in resources(template, "AWS::IoT::TopicRule").values()
        for action in r["Properties"]["TopicRulePayload"]["Actions"]
    }
    assert invoked and invoked <= set(configs)
    for function in invoked:
        config = configs[function]
        assert config["Qualifier"] == "$LATEST"
        assert config["MaximumRetryAttempts"] == 2
        assert config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    role = template["Resources"][function]["Properties"]["Role"]
    role_id = role["Fn::GetAtt"][0]
    statements = [
        s
        for policy in resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    assert any(
        "sqs:SendMessage" in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        and s["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
        for s in statements
    )


def test_the_functions_run_with_a_least_privilege_role_the_layer_and_their_settings(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    template = synthesized[1]
    functions = resources(template, "AWS::Serverless::Function")
    assert {f["Properties"]["Handler"] for f in functions.values()} >= {
        "app.app",
        "chalicelib.parking.blueprint.gate_capture",
        "chalicelib.parking.blueprint.gate_ack",
        "chalicelib.parking.blueprint.gate_status",
        "chalicelib.charging.blueprint.charger_ocpp",
        "chalicelib.charging.blueprint.sweep_charging",
        "chalicelib.platform.blueprint.device_presence",
        "chalicelib.platform.blueprint.iot_dead_letters",
        "chalicelib.platform.blueprint.sweep_commands",
    }
    roles = {f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()}
    assert len(roles) == len(functions)  # a role per function (tests/infra/test_stack_safety.py)
    for function in functions.values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["PARKCHARGE_TABLE_PREFIX"] == "parkcharge-test-" and env["PARKCHARGE_DOWNLINK"] == "iot"
        assert len(function["Properties"]["Layers"]) == 1
    statements = [
        s
        for policy in resources(template, "AWS::IAM::Policy").values()
        if any({"Ref": role_id} in policy["Properties"]["Roles"] for role_id in roles)
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    for statement in statements:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if any(a.startswith(("dynamodb:", "iot:", "sqs:", "ssm:")) for a in actions):
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            assert "*" not in targets, statement


def test_the_ledger_check_is_scheduled_and_its_breaches_raise_an_alarm(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    template = synthesized[1]
    handlers = {f["Properties"]["Handler"] for f in resources(template, "AWS::Serverless::Function").values()}
    assert "chalicelib.ledger.blueprint.check_books" in handlers
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    [ledger] = [a for a in alarms if a.get("MetricName") == "LedgerBreaches"]
    assert ledger["Namespace"] == "parkcharge" and ledger["Threshold"] == 0


def test_the_ack_function_has_its_reserved_concurrency_and_the_others_share_the_pool(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    """The template applies infra/functions.py as the local bridge does (its own pools)."""
    from infra.functions import RESERVED_CONCURRENCY

    template = synthesized[1]
    reserved = {
        f["Properties"]["Handler"].rsplit(".", 1)[-1]: f["Properties"].get("ReservedConcurrentExecutions")
        for f in resources(template, "AWS::Serverless::Function").values()
    }
    assert {name: value for name, value in reserved.items() if value is not None} == RESERVED_CONCURRENCY


def test_merchant_keys_are_read_only_under_their_prefixes_by_functions_that_take_payments(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    from infra.aws.stack import FUNCTION_ACCESS

    template = synthesized[1]
    functions = resources(template, "AWS::Serverless::Function")
    role_of = {name: f["Properties"]["Role"]["Fn::GetAtt"][0] for name, f in functions.items()}
    readers = {
        p["Properties"]["Roles"][0]["Ref"]: p["Properties"]
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        if any(
            "secretsmanager:" in json.dumps(s["Action"])
            for s in p["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert set(readers) == {
        role_of[n] for n, a in FUNCTION_ACCESS.items() if a.reads_pay_key and n in role_of
    }
    api = readers[role_of["APIHandler"]]
    actions = [s["Action"] for s in api["PolicyDocument"]["Statement"]]
    assert set(actions[0]) == {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"}
    assert actions[1:] == ["ssm:GetParameter", "secretsmanager:GetSecretValue"], actions
    for policy in readers.values():
        statements = policy["PolicyDocument"]["Statement"]
        keys = json.dumps([s["Resource"] for s in statements if s["Action"] != actions[0]])
        assert ":parameter/parkcharge/merchants/*" in keys and ":secret:parkcharge/merchants/*" in keys


def test_the_refund_task_and_the_sweeper_read_merchant_accounts_and_the_notify_base_is_the_apis_url(
    synthesized: tuple[Any, dict[str, Any], Path],
) -> None:
    template = synthesized[1]
    functions = resources(template, "AWS::Serverless::Function")
    role_of = {name: f["Properties"]["Role"]["Fn::GetAtt"][0] for name, f in functions.items()}
    merchant_readers = {
        p["Properties"]["Roles"][0]["Ref"]
        for p in resources(template, "AWS::IAM::ManagedPolicy").values()
        if "dynamodb:GetItem" in json.dumps(p["Properties"]["PolicyDocument"]["Statement"])
    }
    assert {role_of["RefundPay"], role_of["SweepPendingPayments"], role_of["APIHandler"]} <= merchant_readers
    [param] = resources(template, "AWS::SSM::Parameter").values()
    value = json.dumps(param["Properties"]["Value"])
    assert "execute-api" in value and '"Ref": "RestAPI"' in value
    for function in functions.values():
        env = function["Properties"]["Environment"]["Variables"]
        assert env["PARKCHARGE_NOTIFY_BASE_URL_PARAM"] == param["Properties"]["Name"]
