"""ParkchargeStack: the Chalice app (API Gateway + Lambda), its DynamoDB tables (from the PynamoDB
models), the IoT rules (from iot-rules/*.json) with their dead-letter queue, the device policy,
the Cognito user pool, least-privilege roles, alarms and a dashboard.

Import this module only after PARKCHARGE_TABLE_PREFIX is set: table names are read from the
models at import time (see infra/aws/synth.py).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from cdk_nag import NagSuppressions
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.tables import ALL_MODELS
from infra.aws.tables import TableSpec, table_spec

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "iot-rules"
APP_FILES = ("app.py", "chalicelib", ".chalice")
DEAD_LETTER_QUEUE = "parkcharge-iot-dead-letters"


def _logical(name: str) -> str:
    """Chalice names a function's resource after it in CamelCase (gate_capture → GateCapture)."""
    return "".join(part.title() for part in name.split("_"))


def load_rules() -> list[dict[str, Any]]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(RULES_DIR.glob("*.json"))]


def stage_app_source(target: Path) -> Path:
    """A copy of the app for `chalice package` with no third-party requirements: those come in
    the Lambda layer, so packaging downloads nothing."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for name in APP_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(
                source, target / name, ignore=shutil.ignore_patterns("__pycache__", "deployments", "deployed")
            )
        else:
            shutil.copy2(source, target / name)
    (target / "requirements.txt").write_text("# runtime dependencies come from the Lambda layer\n")
    return target


class ParkchargeStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        layer_dir: str | Path,
        table_prefix: str,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.specs = [table_spec(model) for model in ALL_MODELS]
        self.tables = {spec.model: self._table(spec) for spec in self.specs}

        iot_data_endpoint = cdk.CfnParameter(
            self,
            "IotDataEndpoint",
            type="String",
            description="The account's IoT data endpoint "
            "(aws iot describe-endpoint --endpoint-type iot:Data-ATS)",
        )
        pay_key_param = cdk.CfnParameter(
            self,
            "SandboxPayPublicKeyParameter",
            type="String",
            default="/parkcharge/sandbox-pay/public-key",
            description="Name of the SSM parameter holding the payment provider's public key (PEM)",
        )

        self.dead_letters = sqs.Queue(
            self,
            "IotDeadLetters",
            queue_name=DEAD_LETTER_QUEUE,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=cdk.Duration.days(14),
            visibility_timeout=cdk.Duration.seconds(360),
        )
        NagSuppressions.add_resource_suppressions(
            self.dead_letters,
            [
                {
                    "id": "AwsSolutions-SQS3",
                    "reason": "This queue is the dead-letter queue of the IoT rules; its "
                    "consumer stores every message in the dead-letter table, and failures there raise "
                    "an alarm.",
                }
            ],
        )

        self.user_pool = cognito.UserPool(
            self,
            "Users",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(phone=True, username=True),
            custom_attributes={"operator_id": cognito.StringAttribute(mutable=True)},
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=True, otp=True),
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(
            self.user_pool,
            [
                {
                    "id": "AwsSolutions-COG2",
                    "reason": "Drivers sign in from mini-programs; MFA is optional for them "
                    "and required by the operator's own policy for staff accounts.",
                },
                {
                    "id": "AwsSolutions-COG3",
                    "reason": "Advanced security features are an account-level purchase "
                    "decision of the operator; threat protection can be turned on without code changes.",
                },
                {
                    "id": "AwsSolutions-COG8",
                    "reason": "The Plus feature plan is the operator's purchase decision; "
                    "the pool works the same on Essentials.",
                },
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Cognito's SMS role publishes SMS to phone numbers, which have "
                    "no ARN to scope sns:Publish to.",
                    "appliesTo": ["Resource::*"],
                },
            ],
            apply_to_children=True,
        )
        for group in ("driver", "staff"):
            cognito.CfnUserPoolGroup(
                self, f"Group{group.title()}", user_pool_id=self.user_pool.user_pool_id, group_name=group
            )
        client = self.user_pool.add_client("AppClient", auth_flows=cognito.AuthFlow(user_srp=True))

        self.role = iam.Role(
            self,
            "FunctionRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="parkcharge Lambda functions",
        )
        self._grant(pay_key_param.value_as_string)

        layer = lambda_.LayerVersion(
            self,
            "Dependencies",
            code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_11],
            description="parkcharge runtime dependencies",
        )
        source = stage_app_source(Path(tempfile.mkdtemp(prefix="parkcharge-cdk-")) / "app")
        self.chalice = Chalice(
            self,
            "App",
            source_dir=str(source),
            stage_config={
                "api_gateway_stage": "api",
                "manage_iam_role": False,
                "iam_role_arn": "arn:aws:iam::123456789012:role/replaced-by-cdk",
                "lambda_timeout": 30,
                "lambda_memory_size": 512,
            },
        )
        environment = {
            "PARKCHARGE_STAGE": stage,
            "PARKCHARGE_TABLE_PREFIX": table_prefix,
            "PARKCHARGE_DOWNLINK": "iot",
            "PARKCHARGE_IOT_DATA_ENDPOINT": cdk.Fn.join("", ["https://", iot_data_endpoint.value_as_string]),
            "PARKCHARGE_JWT_ISSUER": f"https://cognito-idp.{self.region}.amazonaws.com/{self.user_pool.user_pool_id}",
            "PARKCHARGE_JWT_AUDIENCE": client.user_pool_client_id,
            "PARKCHARGE_JWKS_URL": f"https://cognito-idp.{self.region}.amazonaws.com/"
            f"{self.user_pool.user_pool_id}/.well-known/jwks.json",
            "PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_PARAM": pay_key_param.value_as_string,
            "PARKCHARGE_IOT_DLQ": DEAD_LETTER_QUEUE,
            "POWERTOOLS_SERVICE_NAME": "parkcharge",
            "POWERTOOLS_METRICS_NAMESPACE": "parkcharge",
        }
        self.function_names = [
            name for name, res in self._sam_resources().items() if res["Type"] == "AWS::Serverless::Function"
        ]
        for name in self.function_names:
            resource = self.chalice.get_resource(name)
            resource.add_property_override("Role", self.role.role_arn)
            resource.add_property_override("Layers", [layer.layer_version_arn])
            resource.add_property_override("Tracing", "Active")
            for key, value in environment.items():
                resource.add_property_override(f"Environment.Variables.{key}", value)

        self._rules()
        self._device_policy()
        self._alarms_and_dashboard()
        self._ledger_check()
        cdk.CfnOutput(self, "UserPoolId", value=self.user_pool.user_pool_id)
        cdk.CfnOutput(self, "DeadLetterQueueUrl", value=self.dead_letters.queue_url)

    # --- pieces ----------------------------------------------------------------------------------

    def _table(self, spec: TableSpec) -> dynamodb.Table:
        def attribute(key: Any) -> dynamodb.Attribute:
            return dynamodb.Attribute(
                name=key.name,
                type=dynamodb.AttributeType({"S": "STRING", "N": "NUMBER", "B": "BINARY"}[key.type]),
            )

        table = dynamodb.Table(
            self,
            f"Table{spec.model}",
            table_name=spec.table_name,
            partition_key=attribute(spec.hash_key),
            sort_key=attribute(spec.range_key) if spec.range_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=spec.ttl_attribute,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        for index in spec.indexes:
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=attribute(index.hash_key),
                sort_key=attribute(index.range_key) if index.range_key else None,
                projection_type=dynamodb.ProjectionType(index.projection),
                non_key_attributes=list(index.non_key_attributes) or None,
            )
        return table

    def _grant(self, pay_key_param: str) -> None:
        table_arns = [t.table_arn for t in self.tables.values()]
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:Query",
                    "dynamodb:BatchGetItem",
                    "dynamodb:BatchWriteItem",
                    "dynamodb:ConditionCheckItem",
                    "dynamodb:DescribeTable",
                ],
                resources=table_arns + [f"{arn}/index/*" for arn in table_arns],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["iot:Publish"],
                resources=[
                    f"arn:{self.partition}:iot:{self.region}:{self.account}:topic/parkcharge/gate/*/down/*",
                    f"arn:{self.partition}:iot:{self.region}:{self.account}:topic/parkcharge/charger/*/ocpp/down",
                ],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sqs:ReceiveMessage",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ChangeMessageVisibility",
                ],
                resources=[self.dead_letters.queue_arn],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["ssm:GetParameter"],
                resources=[f"arn:{self.partition}:ssm:{self.region}:{self.account}:parameter{pay_key_param}"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"arn:{self.partition}:logs:{self.region}:{self.account}:log-group:/aws/lambda/*"],
            )
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
                resources=["*"],
            )
        )
        NagSuppressions.add_resource_suppressions(
            self.role,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Wildcards are limited to: the tables' own indexes (index/*), device down "
                    "topics (one per thing, named at runtime), the functions' log groups (named by "
                    "Lambda), and X-Ray, "
                    "whose trace actions support no resource-level permissions.",
                }
            ],
            apply_to_children=True,
        )

    def _sam_resources(self) -> dict[str, Any]:
        """The resources `chalice package` produced (its sam.json in the construct's package dir)."""
        sam = Path(self.chalice._sam_package_dir) / "sam.json"
        resources: dict[str, Any] = json.loads(sam.read_text(encoding="utf-8"))["Resources"]
        return resources

    def _rules(self) -> None:
        iot_role = iam.Role(
            self,
            "IotRuleRole",
            assumed_by=iam.ServicePrincipal("iot.amazonaws.com"),
            description="IoT rules: send undeliverable messages to the dead-letter queue",
        )
        self.dead_letters.grant_send_messages(iot_role)
        # IoT invokes its functions asynchronously: a failed invocation is retried twice, then
        # Lambda sends it to the function's on-failure destination, the same dead-letter queue
        # (sent with the function's role).
        self.dead_letters.grant_send_messages(self.role)
        destined: set[str] = set()
        for rule in load_rules():
            function_name = str(rule["action"]["lambda"])
            function = self.chalice.get_resource(_logical(function_name))
            function_arn = function.get_att("Arn").to_string()
            if function_name not in destined:
                destined.add(function_name)
                lambda_.CfnEventInvokeConfig(
                    self,
                    f"AsyncInvoke{_logical(function_name)}",
                    function_name=function.ref,
                    qualifier="$LATEST",
                    maximum_retry_attempts=2,
                    destination_config=lambda_.CfnEventInvokeConfig.DestinationConfigProperty(
                        on_failure=lambda_.CfnEventInvokeConfig.OnFailureProperty(
                            destination=self.dead_letters.queue_arn
                        )
                    ),
                )
            logical = _logical(str(rule["ruleName"]).removeprefix("parkcharge_"))
            topic_rule = iot.CfnTopicRule(
                self,
                f"Rule{logical}",
                rule_name=str(rule["ruleName"]),
                topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                    sql=str(rule["sql"]),
                    aws_iot_sql_version=str(rule["awsIotSqlVersion"]),
                    description=str(rule.get("description", "")),
                    rule_disabled=False,
                    actions=[
                        iot.CfnTopicRule.ActionProperty(
                            lambda_=iot.CfnTopicRule.LambdaActionProperty(function_arn=function_arn)
                        )
                    ],
                    error_action=iot.CfnTopicRule.ActionProperty(
                        sqs=iot.CfnTopicRule.SqsActionProperty(
                            queue_url=self.dead_letters.queue_url,
                            role_arn=iot_role.role_arn,
                            use_base64=False,
                        )
                    ),
                ),
            )
            lambda_.CfnPermission(
                self,
                f"Invoke{logical}",
                action="lambda:InvokeFunction",
                function_name=function_arn,
                principal="iot.amazonaws.com",
                source_arn=topic_rule.attr_arn,
                source_account=self.account,
            )

    def _device_policy(self) -> None:
        thing = "${iot:Connection.Thing.ThingName}"
        arn = f"arn:{self.partition}:iot:{self.region}:{self.account}"
        statements: list[dict[str, Any]] = []
        for family, up, down in (("gate", "up/*", "down/*"), ("charger", "ocpp/up", "ocpp/down")):
            statements += [
                {
                    "Effect": "Allow",
                    "Action": "iot:Publish",
                    "Resource": f"{arn}:topic/parkcharge/{family}/{thing}/{up}",
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Subscribe",
                    "Resource": f"{arn}:topicfilter/parkcharge/{family}/{thing}/{down}",
                },
                {
                    "Effect": "Allow",
                    "Action": "iot:Receive",
                    "Resource": f"{arn}:topic/parkcharge/{family}/{thing}/{down}",
                },
            ]
        statements.insert(
            0,
            {
                "Effect": "Allow",
                "Action": "iot:Connect",
                "Resource": f"{arn}:client/{thing}",
                "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
            },
        )
        iot.CfnPolicy(
            self,
            "DevicePolicy",
            policy_name="parkcharge-device",
            policy_document={"Version": "2012-10-17", "Statement": statements},
        )

    def _ledger_check(self) -> None:
        """The scheduled ledger check scans the tables it compares, and any breach it reports
        raises an alarm."""
        table_arns = [t.table_arn for t in self.tables.values()]
        self.role.add_to_policy(iam.PolicyStatement(actions=["dynamodb:Scan"], resources=table_arns))
        cloudwatch.Alarm(
            self,
            "LedgerBreaches",
            metric=cloudwatch.Metric(
                namespace="parkcharge",
                metric_name="LedgerBreaches",
                statistic="Maximum",
                dimensions_map={"service": "parkcharge"},
                period=cdk.Duration.hours(1),
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description="The ledger's scheduled check found books that do not add up",
        )

    def _alarms_and_dashboard(self) -> None:
        dlq_depth = self.dead_letters.metric_approximate_number_of_messages_visible(
            period=cdk.Duration.minutes(1)
        )
        cloudwatch.Alarm(
            self,
            "DeadLettersWaiting",
            metric=dlq_depth,
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            alarm_description="IoT messages could not be delivered to their function",
        )
        error_metrics = []
        for name in self.function_names:
            function_name = self.chalice.get_resource(name).ref
            errors = cloudwatch.Metric(
                namespace="AWS/Lambda",
                metric_name="Errors",
                dimensions_map={"FunctionName": function_name},
                statistic="Sum",
                period=cdk.Duration.minutes(5),
                label=name,
            )
            error_metrics.append(errors)
            cloudwatch.Alarm(
                self,
                f"{name}Errors",
                metric=errors,
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                alarm_description=f"{name} raised errors",
            )
        api_5xx = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": "parkcharge"},
            statistic="Sum",
            period=cdk.Duration.minutes(5),
        )
        cloudwatch.Alarm(
            self,
            "Api5xx",
            metric=api_5xx,
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            alarm_description="The HTTP API answered with 5xx",
        )

        def business(name: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace="parkcharge",
                metric_name=name,
                statistic="Sum",
                dimensions_map={"service": "parkcharge"},
                period=cdk.Duration.minutes(5),
            )

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name="parkcharge")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Gate decisions",
                left=[
                    business("GateCaptureEntered"),
                    business("GateCaptureExited"),
                    business("GateCapturePaymentRequired"),
                    business("GateCaptureRejected"),
                ],
            ),
            cloudwatch.GraphWidget(title="Function errors", left=error_metrics),
            cloudwatch.GraphWidget(title="Dead letters waiting", left=[dlq_depth]),
            cloudwatch.GraphWidget(title="API 5xx", left=[api_5xx]),
        )
