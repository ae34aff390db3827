"""The stack is safe to deploy, read from the synthesized template: any of these regressing fails.

- every alarm notifies the SNS topic (e-mail subscription from a deploy parameter), and one alarm
  covers a wave of command timeouts at one site;
- Cognito: no client may write `custom:` attributes, no OAuth implicit flow, staff in a pool with
  MFA required;
- a role per function with only its own tables, topics, queue and log group;
- API stage throttling and access logs, and API Gateway's own errors carry a `code`;
- a retention on every log group; deletion protection and point-in-time recovery on money tables.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.infra

Synth = tuple[Any, dict[str, Any], Path]


def resources(template: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_alarm_notifies_the_alarm_topic_which_mails_the_deploy_parameter(synthesized: Synth) -> None:
    template = synthesized[1]
    [(topic_id, topic)] = resources(template, "AWS::SNS::Topic").items()
    assert topic["Properties"]["KmsMasterKeyId"]
    [subscription] = resources(template, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["Protocol"] == "email"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert template["Parameters"]["AlarmEmail"]["Type"] == "String"
    [policy] = resources(template, "AWS::SNS::TopicPolicy").values()
    allowed = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Effect"] == "Allow" and s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"
    ]
    assert allowed and "sns:Publish" in as_list(allowed[0]["Action"])
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    assert len(alarms) >= 12
    for name, alarm in alarms.items():
        assert {"Ref": topic_id} in alarm["Properties"].get("AlarmActions", []), name
        assert {"Ref": topic_id} in alarm["Properties"].get("OKActions", []), name


def test_one_alarm_covers_a_wave_of_command_timeouts_at_one_site(synthesized: Synth) -> None:
    alarms = resources(synthesized[1], "AWS::CloudWatch::Alarm").values()
    [site] = [
        a["Properties"] for a in alarms if a["Properties"].get("MetricName") == "CommandTimeoutsWorstSite"
    ]
    assert site["Namespace"] == "parkcharge" and site["Statistic"] == "Maximum"
    assert site["ComparisonOperator"] == "GreaterThanOrEqualToThreshold" and site["Threshold"] >= 2
    assert site["TreatMissingData"] == "notBreaching"


def test_cognito_users_cannot_write_their_operator_and_staff_need_mfa(synthesized: Synth) -> None:
    template = synthesized[1]
    clients = resources(template, "AWS::Cognito::UserPoolClient")
    assert len(clients) == 2
    for name, client in clients.items():
        props = client["Properties"]
        writable = props.get("WriteAttributes")
        assert writable, f"{name}: no explicit write attributes means every attribute is writable"
        assert not [a for a in writable if a.startswith("custom:")], name
        assert "implicit" not in props.get("AllowedOAuthFlows", []), name
        assert props.get("AllowedOAuthFlowsUserPoolClient") is not True, name
    pools = resources(template, "AWS::Cognito::UserPool")
    staff = [p["Properties"] for p in pools.values() if p["Properties"].get("MfaConfiguration") == "ON"]
    assert len(staff) == 1 and staff[0]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    staff_id = next(k for k, p in pools.items() if p["Properties"].get("MfaConfiguration") == "ON")
    groups = {
        g["Properties"]["GroupName"]
        for g in resources(template, "AWS::Cognito::UserPoolGroup").values()
        if g["Properties"]["UserPoolId"] == {"Ref": staff_id}
    }
    assert "staff" in groups
    env = next(iter(resources(template, "AWS::Serverless::Function").values()))["Properties"]["Environment"]
    assert "PARKCHARGE_STAFF_JWT_ISSUER" in env["Variables"]


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    """Every statement of the role's policies: its default policy and, when that grows past the
    inline size limit (the API handler's, with every table), the overflow policy CDK adds."""
    policies = [
        *resources(template, "AWS::IAM::Policy").values(),
        *resources(template, "AWS::IAM::ManagedPolicy").values(),
    ]
    return [
        s
        for policy in policies
        if {"Ref": role_id} in policy["Properties"].get("Roles", [])
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _table_ids(template: dict[str, Any], statement: dict[str, Any]) -> set[str]:
    """The tables a statement names: by ARN, or all of them by the stage's table-name prefix
    (`...:table/parkcharge-test-*`, which only this stack's tables carry)."""
    ids: set[str] = set()
    every = set(resources(template, "AWS::DynamoDB::Table"))
    for target in as_list(statement["Resource"]):
        if isinstance(target, dict) and "Fn::GetAtt" in target:
            ids.add(target["Fn::GetAtt"][0])
        elif isinstance(target, dict) and "Fn::Join" in target:
            parts = target["Fn::Join"][1]
            ids |= {p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p}
            if any(isinstance(p, str) and p.endswith(":table/parkcharge-test-*") for p in parts):
                ids |= every
    return ids


def test_each_function_has_its_own_role_with_only_what_it_touches(synthesized: Synth) -> None:
    from infra.aws.stack import DEFAULT_ACCESS, FUNCTION_ACCESS

    template = synthesized[1]
    tables = {
        k: v["Properties"]["TableName"].removeprefix("parkcharge-test-")
        for k, v in resources(template, "AWS::DynamoDB::Table").items()
    }
    model_table = {}
    from chalicelib.tables import ALL_MODELS

    for model in ALL_MODELS:
        model_table[model.__name__] = model.Meta.table_name.removeprefix("parkcharge-test-")
    functions = resources(template, "AWS::Serverless::Function")
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(set(roles)) == len(functions)
    for name, function in functions.items():
        access = FUNCTION_ACCESS.get(name, DEFAULT_ACCESS)
        statements = _role_statements(template, function["Properties"]["Role"]["Fn::GetAtt"][0])
        actions = {a for s in statements for a in as_list(s["Action"])}
        assert not [a for a in actions if a.endswith(":*") or a == "*"], (name, actions)
        touched = {
            tables[t]
            for s in statements
            if s.get("Effect", "Allow") == "Allow"
            and any(a.startswith("dynamodb:") for a in as_list(s["Action"]))
            for t in _table_ids(template, s)
        }
        assert touched == {model_table[m] for m in access.tables}, name
        assert ("iot:Publish" in actions) == bool(access.publishes), name
        assert ("sqs:ReceiveMessage" in actions) == access.consumes_dead_letters, name
        assert ("ssm:GetParameter" in actions) == access.reads_pay_key, name
        assert "logs:CreateLogGroup" not in actions, name
        [logs] = [s for s in statements if "logs:PutLogEvents" in as_list(s["Action"])]
        [target] = as_list(logs["Resource"])
        [group_id] = {target["Fn::GetAtt"][0]}
        group = template["Resources"][group_id]["Properties"]
        assert group["LogGroupName"] == f"/aws/lambda/{function['Properties']['FunctionName']}", name
    gate_role = functions["GateCapture"]["Properties"]["Role"]["Fn::GetAtt"][0]
    gate_tables = {
        t for s in _role_statements(template, gate_role) for t in _table_ids(template, s) if t in tables
    }
    assert not {tables[t] for t in gate_tables} & {"payments", "wallets", "charging_sessions"}


def test_every_log_group_expires(synthesized: Synth) -> None:
    template = synthesized[1]
    groups = resources(template, "AWS::Logs::LogGroup")
    functions = resources(template, "AWS::Serverless::Function")
    names = {g["Properties"].get("LogGroupName") for g in groups.values()}
    for name, function in functions.items():
        assert f"/aws/lambda/{function['Properties']['FunctionName']}" in names, name
    for name, group in groups.items():
        assert group["Properties"].get("RetentionInDays", 0) > 0, name


def test_the_api_stage_is_throttled_logged_and_answers_its_own_errors_with_a_code(synthesized: Synth) -> None:
    template = synthesized[1]
    [api] = resources(template, "AWS::Serverless::Api").values()
    props = api["Properties"]
    [settings] = props["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["ResourcePath"] == "/*" and settings["HttpMethod"] == "*"
    destination = props["AccessLogSetting"]["DestinationArn"]["Fn::GetAtt"][0]
    assert template["Resources"][destination]["Type"] == "AWS::Logs::LogGroup"
    assert "$context.requestId" in props["AccessLogSetting"]["Format"]
    for kind in ("MISSING_AUTHENTICATION_TOKEN", "DEFAULT_4XX", "DEFAULT_5XX", "THROTTLED"):
        body = json.loads(props["GatewayResponses"][kind]["ResponseTemplates"]["application/json"])
        assert body["code"] and body["message"], kind
    assert props["GatewayResponses"]["MISSING_AUTHENTICATION_TOKEN"]["StatusCode"] == "404"
    assert resources(template, "AWS::ApiGateway::Account")


def test_money_tables_are_protected_from_deletion_and_recoverable(synthesized: Synth) -> None:
    template = synthesized[1]
    tables = {t["Properties"]["TableName"]: t for t in resources(template, "AWS::DynamoDB::Table").values()}
    for name in ("payments", "wallets", "charging_sessions", "visits", "quotes"):
        table = tables[f"parkcharge-test-{name}"]
        assert table["Properties"]["DeletionProtectionEnabled"] is True, name
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert table["DeletionPolicy"] == "Retain", name


def test_the_roles_that_reach_every_table_cannot_write_the_merchant_accounts(synthesized: Synth) -> None:
    """The API's and the books' roles name every table by the stage's prefix; the merchant
    accounts (and their keys) stay read-only to the API: an explicit deny of every write."""
    template = synthesized[1]
    functions = resources(template, "AWS::Serverless::Function")
    role = functions["APIHandler"]["Properties"]["Role"]["Fn::GetAtt"][0]
    [accounts] = [
        k
        for k, v in resources(template, "AWS::DynamoDB::Table").items()
        if v["Properties"]["TableName"].endswith("merchant_accounts")
    ]
    denied = {
        a
        for s in _role_statements(template, role)
        if s.get("Effect") == "Deny" and accounts in _table_ids(template, s)
        for a in as_list(s["Action"])
    }
    assert {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    } <= denied
