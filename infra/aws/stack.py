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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from aws_cdk import aws_stepfunctions as stepfunctions
from cdk_nag import NagSuppressions
from chalice.cdk import Chalice
from constructs import Construct

from chalicelib.charging.models import MODELS as CHARGING_MODELS
from chalicelib.ledger.models import MODELS as LEDGER_MODELS
from chalicelib.parking.models import MODELS as PARKING_MODELS
from chalicelib.payments.merchants import KEY_PREFIX as MERCHANT_KEY_PREFIX
from chalicelib.payments.merchants import SECRETS_MANAGER as MERCHANT_SECRETS
from chalicelib.payments.merchants import SSM as MERCHANT_SSM
from chalicelib.payments.merchants import MerchantAccount
from chalicelib.payments.models import MODELS as PAYMENTS_MODELS
from chalicelib.platform.models import MODELS as PLATFORM_MODELS
from chalicelib.shared.settings import state_machine_env
from chalicelib.tables import ALL_MODELS
from chalicelib.workflows.models import MODELS as WORKFLOW_MODELS
from chalicelib.workflows.refund_models import MODELS as REFUND_MODELS
from infra import statemachines
from infra.aws.tables import TableSpec, table_spec
from infra.functions import RESERVED_CONCURRENCY

ROOT = Path(__file__).resolve().parents[2]
RULES_DIR = ROOT / "iot-rules"
APP_FILES = ("app.py", "chalicelib", ".chalice")
DEAD_LETTER_QUEUE = "parkcharge-iot-dead-letters"

# Tables holding money or what money is computed from: deletion protection on (and, like every
# table, point-in-time recovery).
MONEY_TABLES = (
    "Payment",
    "Wallet",
    "ChargingSession",
    "Visit",
    "Quote",
    "PlateFunds",
    "CashierShift",
    "Coupon",
)
LOG_RETENTION = logs.RetentionDays.SIX_MONTHS
# API stage throttling (per stage, all methods): steady requests per second and burst.
API_RATE_LIMIT = 200
API_BURST_LIMIT = 400
# The site-wide command-timeout alarm: this many commands timing out at one site (a lot or a
# station) within one sweep is a wave, alarmed once (docs/decisions.md).
SITE_TIMEOUT_WAVE = 5

_ALL = [m.__name__ for m in ALL_MODELS]
_DEVICES = [m.__name__ for m in PLATFORM_MODELS if m.__name__ != "Operator"]  # what device paths touch
_PARKING = [m.__name__ for m in PARKING_MODELS]
_PAYMENTS = [m.__name__ for m in PAYMENTS_MODELS]
_CHARGING = [m.__name__ for m in CHARGING_MODELS]
_LEDGER = [m.__name__ for m in LEDGER_MODELS]  # postings are written in each flow's transaction
_WORKFLOWS = [m.__name__ for m in WORKFLOW_MODELS]
# A refund's tasks: the refund and its approval, and what paying it back moves in one transaction
# (the session or payment counters, the wallet, the visit's obligation, the journal; the lot names
# its operator).
_REFUNDS = (
    [m.__name__ for m in REFUND_MODELS]
    + _WORKFLOWS
    + ["ChargingSession", "Payment", "Wallet", "Visit", "Lot", "LotIdentity"]
)
_REFUNDS += _LEDGER
# An exit reads the plate's merchant coupons and uses the best one with the visit's close.
_COUPONS_AT_EXIT = ["Coupon", "Counter"]
GATE, CHARGER, LOT = "gate", "charger", "lot"
MERCHANT_TABLE = MerchantAccount.__name__


@dataclass(frozen=True)
class Access:
    """What one function touches: its tables, the device down topics it publishes to, the
    dead-letter queue it consumes, the payment key it reads."""

    tables: tuple[str, ...]
    publishes: tuple[str, ...] = ()
    consumes_dead_letters: bool = False
    reads_pay_key: bool = False
    # Starts executions of the state machines and answers their waiting tasks (SendTaskSuccess /
    # SendTaskFailure), reads their executions' status.
    drives_workflows: bool = False


# One role per function (by its Chalice resource name), holding only this. A function added
# later gets only the dead-letter table until it is listed here.
FUNCTION_ACCESS: dict[str, Access] = {
    "APIHandler": Access(tuple(_ALL), (GATE, CHARGER, LOT), reads_pay_key=True, drives_workflows=True),
    # (an exit with a fee due may pay from the plate's prestore: payments' plate funds)
    "GateCapture": Access(
        tuple(_DEVICES + _PARKING + _LEDGER + ["PlateFunds"] + _COUPONS_AT_EXIT), (GATE, LOT)
    ),
    "LotOccupancy": Access(("Lot", "Occupancy"), (LOT,)),
    "RecountOccupancy": Access(("Lot", "Visit", "Occupancy"), (LOT,)),
    # Paid reservations whose window ended without an entry (a sparse index of the identities):
    # the pass off the plate's identity item, the prepaid owed back on the payment, the journal;
    # a closed visit's unused prepaid handed to the payment for the automatic refund.
    "SettleReservations": Access(("Lot", "LotIdentity", "Visit", "Payment", *_LEDGER)),
    "GateAck": Access(tuple(_DEVICES), (GATE,)),
    "GateStatus": Access(tuple(_DEVICES), (GATE,)),
    "GateEvent": Access(tuple(_DEVICES + _PARKING), (GATE,)),
    "ChargerOcpp": Access(tuple(_DEVICES + _CHARGING + _PAYMENTS + _PARKING + _LEDGER), (CHARGER,)),
    "SweepCharging": Access(tuple(_DEVICES + _CHARGING + _PAYMENTS + _PARKING + _LEDGER), (CHARGER,)),
    "CheckBooks": Access(tuple(_ALL)),
    # Pending WeChat Pay / Alipay orders past their expiry: asked at the provider, then booked (the
    # visit, the journal, the waiting car let out) or closed.
    "SweepPendingPayments": Access(
        (*_DEVICES, *_PAYMENTS, *_PARKING, *_LEDGER, MERCHANT_TABLE), (GATE,), reads_pay_key=True
    ),
    # The daily reconciliation: the accounts (scanned), their statements through their keys, the
    # journal's days, the differences it stores.
    "ReconcileYesterday": Access(("MerchantAccount", "JournalPosting", "Difference"), reads_pay_key=True),
    "DevicePresence": Access(tuple(_DEVICES), (GATE, CHARGER)),
    "SweepCommands": Access(("Device", "Command"), (GATE, CHARGER)),
    "IotDeadLetters": Access(("DeadLetter",), consumes_dead_letters=True),
    # The approval engine's task functions (invoked by the state machines only).
    "WorkflowNext": Access(tuple(_WORKFLOWS)),
    "WorkflowWait": Access(tuple(_WORKFLOWS), drives_workflows=True),  # answers a level decided meanwhile
    "WorkflowEscalate": Access(tuple(_WORKFLOWS)),
    # An executor writes what its kind approves: a reservation's pass (identities, visits tables).
    "WorkflowExecute": Access((*_WORKFLOWS, "LotIdentity", "Visit")),
    # The refund machine's own tasks (the provider's answer is verified with its public key) and
    # the sweep that opens the automatic refunds of overpayments (and starts their executions).
    "RefundPay": Access((*_REFUNDS, MERCHANT_TABLE), reads_pay_key=True),
    "RefundFailed": Access(tuple(_REFUNDS)),
    "RefundRejected": Access(tuple(_REFUNDS)),
    "RefundNotify": Access(tuple(_REFUNDS)),
    "RefundOverpayments": Access(tuple(_REFUNDS), drives_workflows=True),
}
DEFAULT_ACCESS = Access(("DeadLetter",))
# Where merchant accounts' keys may live (the only names payments.merchants accepts).
MERCHANT_KEYS_SSM = MERCHANT_KEY_PREFIX[MERCHANT_SSM]
MERCHANT_KEYS_SECRETS = MERCHANT_KEY_PREFIX[MERCHANT_SECRETS]


def notify_base_param_name(stage: str) -> str:
    """The SSM parameter holding the providers' notify base URL (the API's URL)."""
    return f"/parkcharge/{stage}/notify-base-url"


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
        self.table_prefix = table_prefix
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

        pay_url = cdk.CfnParameter(
            self,
            "SandboxPayUrl",
            type="String",
            default="",
            description="The sandbox payment provider's API base URL (its refund API); empty where "
            "no sandbox provider is reachable (refunds then wait as failed until it is set)",
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
        client = self._driver_client()
        staff_client = self._staff_pool()

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
            "PARKCHARGE_STAFF_JWT_ISSUER": f"https://cognito-idp.{self.region}.amazonaws.com/"
            f"{self.staff_pool.user_pool_id}",
            "PARKCHARGE_STAFF_JWT_AUDIENCE": staff_client.user_pool_client_id,
            "PARKCHARGE_STAFF_JWKS_URL": f"https://cognito-idp.{self.region}.amazonaws.com/"
            f"{self.staff_pool.user_pool_id}/.well-known/jwks.json",
            "PARKCHARGE_SANDBOX_PAY_PUBLIC_KEY_PARAM": pay_key_param.value_as_string,
            "PARKCHARGE_SANDBOX_PAY_URL": pay_url.value_as_string,
            # The providers' notify base: the API's own URL, read from the parameter the stack
            # writes (a reference to the API in the functions' settings would be a cycle).
            "PARKCHARGE_NOTIFY_BASE_URL_PARAM": notify_base_param_name(stage),
            "PARKCHARGE_IOT_DLQ": DEAD_LETTER_QUEUE,
            "POWERTOOLS_SERVICE_NAME": "parkcharge",
            "POWERTOOLS_METRICS_NAMESPACE": "parkcharge",
        }
        # Each state machine's ARN is known by its name (no reference, so the task functions the
        # machines invoke can carry it without a dependency cycle).
        self.machine_arns = {
            name: f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:"
            f"{self._machine_name(stage, name)}"
            for name in statemachines.names()
        }
        environment.update({state_machine_env(name): arn for name, arn in self.machine_arns.items()})
        self.function_names = [
            name for name, res in self._sam_resources().items() if res["Type"] == "AWS::Serverless::Function"
        ]
        self._function_roles(stage, pay_key_param.value_as_string)
        sam = self._sam_resources()
        for name in self.function_names:
            resource = self.chalice.get_resource(name)
            resource.add_property_override("Layers", [layer.layer_version_arn])
            resource.add_property_override("Tracing", "Active")
            for key, value in environment.items():
                resource.add_property_override(f"Environment.Variables.{key}", value)
            function = str(sam[name]["Properties"]["Handler"]).rsplit(".", 1)[-1]
            if function in RESERVED_CONCURRENCY:
                resource.add_property_override("ReservedConcurrentExecutions", RESERVED_CONCURRENCY[function])

        self._rules()
        self._device_policy()
        self._alarms_and_dashboard()
        self._api_stage()
        self._notify_base_url(stage)
        self._site_timeout_alarm()
        self._refund_alarm()
        self._ledger_check()
        self._reconciliation()
        self._state_machines(stage)
        self._alarm_notifications()  # last: every alarm of the stack gets the topic as its action
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
            deletion_protection=spec.model in MONEY_TABLES,
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
        # (sent with that function's own role).
        destined: set[str] = set()
        for rule in load_rules():
            function_name = str(rule["action"]["lambda"])
            function = self.chalice.get_resource(_logical(function_name))
            function_arn = function.get_att("Arn").to_string()
            if function_name not in destined:
                destined.add(function_name)
                self.dead_letters.grant_send_messages(self.roles[_logical(function_name)])
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
        # A lot's free spaces are public: any device (a guidance screen) may read them.
        statements += [
            {
                "Effect": "Allow",
                "Action": "iot:Subscribe",
                "Resource": f"{arn}:topicfilter/parkcharge/lot/*/guidance",
            },
            {
                "Effect": "Allow",
                "Action": "iot:Receive",
                "Resource": f"{arn}:topic/parkcharge/lot/*/guidance",
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

    def _reconciliation(self) -> None:
        """The daily reconciliation lists the merchant accounts (a scan of that small table)."""
        self.roles["ReconcileYesterday"].add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Scan"], resources=[self.tables[MERCHANT_TABLE].table_arn])
        )

    def _ledger_check(self) -> None:
        """The scheduled ledger check scans the tables it compares, and any breach it reports
        raises an alarm."""
        table_arns = [t.table_arn for t in self.tables.values()]
        self.roles["CheckBooks"].add_to_policy(
            iam.PolicyStatement(actions=["dynamodb:Scan"], resources=table_arns)
        )
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

    # --- the workflows' state machines ------------------------------------------------------------

    @staticmethod
    def _machine_name(stage: str, name: str) -> str:
        return f"parkcharge-{stage}-{name}"

    def _state_machines(self, stage: str) -> None:
        """One state machine per infra/statemachines/*.asl.json, its `${fn:...}` placeholders
        replaced by the app's functions; its role may invoke exactly those functions. Logged
        (ALL, without execution data: decisions name people) and traced. Alarms: executions
        failed, and approvals escalated (a level waited past its template's days)."""
        self.machines: dict[str, stepfunctions.StateMachine] = {}
        for name in statemachines.names():
            logical = _logical(name)
            functions = {fn: self.chalice.get_resource(_logical(fn)) for fn in statemachines.functions(name)}
            arns = {fn: resource.get_att("Arn").to_string() for fn, resource in functions.items()}
            role = iam.Role(
                self,
                f"StateMachine{logical}Role",
                assumed_by=iam.ServicePrincipal("states.amazonaws.com"),
                description=f"parkcharge {name} state machine: invoke its task functions",
            )
            role.add_to_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=list(arns.values()))
            )
            log_group = logs.LogGroup(
                self,
                f"StateMachine{logical}Logs",
                log_group_name=f"/aws/vendedlogs/states/{self._machine_name(stage, name)}",
                retention=LOG_RETENTION,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            machine = stepfunctions.StateMachine(
                self,
                f"StateMachine{logical}",
                state_machine_name=self._machine_name(stage, name),
                definition_body=stepfunctions.DefinitionBody.from_string(
                    statemachines.definition_json(name, arns.__getitem__)
                ),
                role=role,
                logs=stepfunctions.LogOptions(
                    destination=log_group, level=stepfunctions.LogLevel.ALL, include_execution_data=False
                ),
                tracing_enabled=True,
            )
            # CDK makes the machine depend on its role, which its RoleArn references already
            # (cfn-lint W3005): only the role's policy stays a declared dependency.
            policy = role.node.find_child("DefaultPolicy").node.default_child
            cfn_machine = machine.node.default_child
            assert isinstance(policy, cdk.CfnResource) and isinstance(cfn_machine, cdk.CfnResource)
            cfn_machine.add_override("DependsOn", [self.get_logical_id(policy)])
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    {
                        "id": "AwsSolutions-IAM5",
                        "reason": "Step Functions' log delivery (logs:*LogDelivery, logs:Describe*) and "
                        "X-Ray tracing actions support no resource-level permissions; the Lambda "
                        "invocations are limited to the machine's own task functions.",
                        "appliesTo": ["Resource::*"],
                    }
                ],
                apply_to_children=True,
            )
            cloudwatch.Alarm(
                self,
                f"StateMachine{logical}Failed",
                metric=machine.metric_failed(period=cdk.Duration.minutes(5), statistic="Sum"),
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=f"Executions of the {name} state machine failed: once the cause "
                "is fixed, "
                + (
                    "finance retries each failed refund (POST /v1/ops/refunds/{id}/retry)"
                    if name == "refund"
                    else "resume them (POST /v1/ops/approvals/{id}/resume)"
                ),
            )
            self.machines[name] = machine
            cdk.CfnOutput(self, f"StateMachine{logical}Arn", value=machine.state_machine_arn)
        self._app_metric_alarm(
            "ApprovalEscalations",
            cdk.Duration.hours(1),
            "An approval (or refund review) waited past its flow template's days "
            "without a decision: see the staff inbox (escalated items)",
        )

    def _app_metric_alarm(self, metric_name: str, period: cdk.Duration, description: str) -> None:
        """An alarm as soon as one of the app's own counters (namespace parkcharge) is above zero."""
        cloudwatch.Alarm(
            self,
            metric_name,
            metric=cloudwatch.Metric(
                namespace="parkcharge",
                metric_name=metric_name,
                statistic="Sum",
                dimensions_map={"service": "parkcharge"},
                period=period,
            ),
            threshold=0,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )

    def _refund_alarm(self) -> None:
        """A refund the provider kept failing ends `failed` (listed for finance at
        `/v1/ops/refunds?status=failed`); each one counts in `RefundsFailed`, which raises an alarm."""
        self._app_metric_alarm(
            "RefundsFailed",
            cdk.Duration.minutes(5),
            "A refund failed at the payment provider after its retries: finance lists it "
            "at /v1/ops/refunds?status=failed and can retry it",
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

    # --- Cognito: who may write which attribute; staff in their own pool ------------------------

    def _driver_client(self) -> cognito.UserPoolClient:
        """The drivers' app client: SRP sign-in only (no hosted-UI OAuth flows, so no implicit
        flow), and no write access to `custom:operator_id`: a user cannot give themselves an
        operator. The app ignores operator and staff claims from this pool anyway."""
        standard = {"phone_number": True, "preferred_username": True, "nickname": True}
        return self.user_pool.add_client(
            "AppClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            read_attributes=cognito.ClientAttributes().with_standard_attributes(**standard),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(**standard),
        )

    def _staff_pool(self) -> cognito.UserPoolClient:
        """Staff sign in to their own pool: MFA required (TOTP), accounts created by an
        administrator, `custom:operator_id` and the role groups assigned by the administrator
        (AdminCreateUser / AdminUpdateUserAttributes / AdminAddUserToGroup); the app client may
        read the operator but write nothing but the user's own name and phone."""
        self.staff_pool = cognito.UserPool(
            self,
            "StaffUsers",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            custom_attributes={"operator_id": cognito.StringAttribute(mutable=True, min_len=1, max_len=64)},
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_digits=True,
                require_lowercase=True,
                require_uppercase=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        NagSuppressions.add_resource_suppressions(
            self.staff_pool,
            [
                {
                    "id": "AwsSolutions-COG3",
                    "reason": "Advanced security features are an account-level purchase decision of the "
                    "operator; MFA is required in this pool regardless.",
                },
                {
                    "id": "AwsSolutions-COG8",
                    "reason": "The Plus feature plan is the operator's purchase decision; the pool "
                    "works the same on Essentials.",
                },
            ],
        )
        # `merchant`: merchant staff (docs/coupons.md), created by an administrator like staff; which
        # merchant a person belongs to is the app's record, not a claim.
        for group in ("staff", "cashier", "customer_service", "finance", "ops_admin", "merchant"):
            cognito.CfnUserPoolGroup(
                self,
                f"StaffGroup{_logical(group)}",
                user_pool_id=self.staff_pool.user_pool_id,
                group_name=group,
            )
        return self.staff_pool.add_client(
            "StaffClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            disable_o_auth=True,
            prevent_user_existence_errors=True,
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, phone_number=True, fullname=True)
            .with_custom_attributes("operator_id"),
            write_attributes=cognito.ClientAttributes().with_standard_attributes(
                fullname=True, phone_number=True
            ),
        )

    # --- one role per function -------------------------------------------------------------------

    def _function_roles(self, stage: str, pay_key_param: str) -> None:
        """Each function gets its own name (so its log group is known), its own log group with a
        retention, and its own role with only what FUNCTION_ACCESS lists for it."""
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        arn = f"arn:{self.partition}"
        for name in self.function_names:
            access = FUNCTION_ACCESS.get(name, DEFAULT_ACCESS)
            function_name = f"parkcharge-{stage}-{name}"
            resource = self.chalice.get_resource(name)
            resource.add_property_override("FunctionName", function_name)
            log_group = logs.LogGroup(
                self,
                f"{name}Logs",
                log_group_name=f"/aws/lambda/{function_name}",
                retention=LOG_RETENTION,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            role = iam.Role(
                self,
                f"{name}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"parkcharge {name}: only what it touches",
            )
            # The API reads merchant accounts through its merchant-keys policy (below).
            tables = [
                self.tables[model]
                for model in access.tables
                if not (access.reads_pay_key and model == MERCHANT_TABLE)
            ]
            table_arns = [t.table_arn for t in tables]
            # Index ARNs only for the tables that have indexes: the role's policy stays one
            # document.
            indexed = {spec.model for spec in self.specs if spec.indexes}
            index_arns = [f"{self.tables[m].table_arn}/index/*" for m in access.tables if m in indexed]
            if set(access.tables) >= set(_ALL):
                # Every table of the stage (the API, the books' check): named by the stage's table
                # prefix, which only this stack's tables carry, instead of ~40 ARNs that overflow
                # the role's policy into a second document.
                prefix = f"{arn}:dynamodb:{self.region}:{self.account}:table/{self.table_prefix}"
                table_arns, index_arns = [f"{prefix}*"], [f"{prefix}*/index/*"]
                if access.reads_pay_key:  # the merchant accounts stay read-only (keys policy)
                    role.add_to_policy(
                        iam.PolicyStatement(
                            effect=iam.Effect.DENY,
                            actions=[
                                "dynamodb:PutItem",
                                "dynamodb:UpdateItem",
                                "dynamodb:DeleteItem",
                                "dynamodb:BatchWriteItem",
                            ],
                            resources=[self.tables[MERCHANT_TABLE].table_arn],
                        )
                    )
            role.add_to_policy(
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
                    resources=table_arns + index_arns,
                )
            )
            topics = {
                GATE: f"{arn}:iot:{self.region}:{self.account}:topic/parkcharge/gate/*/down/*",
                CHARGER: f"{arn}:iot:{self.region}:{self.account}:topic/parkcharge/charger/*/ocpp/down",
                LOT: f"{arn}:iot:{self.region}:{self.account}:topic/parkcharge/lot/*",
            }
            if access.publishes:
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["iot:Publish"], resources=[topics[kind] for kind in access.publishes]
                    )
                )
            if access.consumes_dead_letters:
                role.add_to_policy(
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
            if access.reads_pay_key:
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["ssm:GetParameter"],
                        resources=[f"{arn}:ssm:{self.region}:{self.account}:parameter{pay_key_param}"],
                    )
                )
                accounts = self.tables[MERCHANT_TABLE].table_arn if MERCHANT_TABLE in access.tables else None
                self._merchant_keys_policy(name, role, arn, accounts)
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["ssm:GetParameter"],
                        resources=[
                            f"{arn}:ssm:{self.region}:{self.account}:parameter{notify_base_param_name(stage)}"
                        ],
                    )
                )
            if access.drives_workflows:
                machines = list(self.machine_arns.values())
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["states:StartExecution", "states:SendTaskSuccess", "states:SendTaskFailure"],
                        resources=machines,
                    )
                )
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=["states:DescribeExecution"],
                        resources=[f"{m.replace(':stateMachine:', ':execution:', 1)}:*" for m in machines],
                    )
                )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[f"{log_group.log_group_arn}"],
                )
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["xray:PutTraceSegments", "xray:PutTelemetryRecords"], resources=["*"]
                )
            )
            NagSuppressions.add_resource_suppressions(
                role,
                [
                    {
                        "id": "AwsSolutions-IAM5",
                        "reason": "Wildcards are limited to: the function's own tables' indexes "
                        "(index/*), the stage's table-name prefix for the two functions that touch "
                        "every table (the API and the books' check), device down topics (one per "
                        "thing, named at runtime), the log streams of the function's own log group "
                        "(named by Lambda), the executions of "
                        "the stack's own state machines (named at runtime by approval id), and X-Ray, "
                        "whose trace actions support no resource-level permissions.",
                    }
                ],
                apply_to_children=True,
            )
            resource.add_property_override("Role", role.role_arn)
            resource.add_dependency(log_group.node.default_child)
            self.roles[name] = role
            self.log_groups[name] = log_group

    def _merchant_keys_policy(self, name: str, role: iam.Role, arn: str, accounts_arn: str | None) -> None:
        """The merchant accounts (read) and their keys (payments.merchants accepts names under
        these prefixes only), in a managed policy of their own: the role's inline policy is at its
        size limit."""
        keys = iam.ManagedPolicy(
            self,
            f"{name}MerchantKeys",
            description=f"parkcharge {name}: read the merchant accounts' payment keys",
            statements=[
                *(
                    [
                        iam.PolicyStatement(
                            actions=["dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"],
                            resources=[accounts_arn, f"{accounts_arn}/index/*"],
                        )
                    ]
                    if accounts_arn
                    else []
                ),
                iam.PolicyStatement(
                    actions=["ssm:GetParameter"],
                    resources=[f"{arn}:ssm:{self.region}:{self.account}:parameter{MERCHANT_KEYS_SSM}*"],
                ),
                iam.PolicyStatement(
                    actions=["secretsmanager:GetSecretValue"],
                    resources=[
                        f"{arn}:secretsmanager:{self.region}:{self.account}:secret:{MERCHANT_KEYS_SECRETS}*"
                    ],
                ),
            ],
            roles=[role],
        )
        NagSuppressions.add_resource_suppressions(
            keys,
            [
                {
                    "id": "AwsSolutions-IAM5",
                    "reason": "Each site names its merchant account's key parameters and secrets at "
                    "runtime; reads are limited to the merchant-key prefixes the app accepts (and the "
                    "accounts table's own indexes).",
                }
            ],
        )

    # --- the providers' notify base URL: the API's URL --------------------------------------------

    def _notify_base_url(self, stage: str) -> None:
        api = self.chalice.get_resource("RestAPI")
        ssm.StringParameter(
            self,
            "NotifyBaseUrl",
            parameter_name=notify_base_param_name(stage),
            description="The base URL WeChat Pay and Alipay send notifications to (the API's)",
            string_value=cdk.Fn.join(
                "", ["https://", api.ref, ".execute-api.", self.region, ".", self.url_suffix, "/api"]
            ),
        )

    # --- the API stage: throttling, access logs, errors with a code ------------------------------

    def _api_stage(self) -> None:
        api = self.chalice.get_resource("RestAPI")
        access_logs = logs.LogGroup(
            self, "ApiAccessLogs", retention=LOG_RETENTION, removal_policy=cdk.RemovalPolicy.RETAIN
        )
        api.add_property_override(
            "AccessLogSetting",
            {
                "DestinationArn": access_logs.log_group_arn,
                "Format": json.dumps(
                    {
                        "requestId": "$context.requestId",
                        "ip": "$context.identity.sourceIp",
                        "time": "$context.requestTime",
                        "method": "$context.httpMethod",
                        "path": "$context.resourcePath",
                        "status": "$context.status",
                        "latencyMs": "$context.responseLatency",
                        "error": "$context.error.message",
                    }
                ),
            },
        )
        api.add_property_override(
            "MethodSettings",
            [
                {
                    "ResourcePath": "/*",
                    "HttpMethod": "*",
                    "ThrottlingRateLimit": API_RATE_LIMIT,
                    "ThrottlingBurstLimit": API_BURST_LIMIT,
                    "MetricsEnabled": True,
                    "LoggingLevel": "ERROR",
                    "DataTraceEnabled": False,
                }
            ],
        )
        api.add_property_override("TracingEnabled", True)

        def answer(status: str | None, code: str, message: str, retry: bool = False) -> dict[str, Any]:
            body = json.dumps({"code": code, "message": message})
            response: dict[str, Any] = {
                "ResponseTemplates": {"application/json": body},
                "ResponseParameters": {"Headers": {"Content-Type": "'application/json'"}},
            }
            if status is not None:  # None: keep the status API Gateway chose
                response["StatusCode"] = status
            if retry:
                response["ResponseParameters"]["Headers"]["Retry-After"] = "'1'"
            return response

        # Answers API Gateway gives itself (before or instead of a function) carry a `code` too.
        api.add_property_override(
            "GatewayResponses",
            {
                "MISSING_AUTHENTICATION_TOKEN": answer("404", "not_found", "no such route"),
                "RESOURCE_NOT_FOUND": answer("404", "not_found", "no such route"),
                "THROTTLED": answer("429", "throttled", "too many requests; try again shortly", retry=True),
                "DEFAULT_4XX": answer(None, "refused", "the request was refused"),
                "DEFAULT_5XX": answer(None, "gateway_error", "the service could not answer; try again"),
            },
        )
        # API Gateway writes execution and access logs through the account's CloudWatch role.
        push_role = iam.Role(
            self,
            "ApiGatewayLogsRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AmazonAPIGatewayPushToCloudWatchLogs"
                )
            ],
        )
        NagSuppressions.add_resource_suppressions(
            push_role,
            [
                {
                    "id": "AwsSolutions-IAM4",
                    "reason": "AWS's own managed policy for API Gateway's account-wide log delivery "
                    "role; API Gateway names the log groups it writes to.",
                    "appliesTo": [
                        "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                        "AmazonAPIGatewayPushToCloudWatchLogs"
                    ],
                }
            ],
        )
        account = apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=push_role.role_arn)
        api.add_dependency(account)

    # --- alarms: a site-wide command-timeout alarm, and every alarm notifies the topic -----------

    def _site_timeout_alarm(self) -> None:
        """The sweeper publishes `CommandTimeouts` per site and `CommandTimeoutsWorstSite`, the
        largest count at any one site in a sweep. One alarm on the latter: a wave of timeouts at
        a site (its network or power is down) is one alarm, not one per device or command."""
        worst = cloudwatch.Metric(
            namespace="parkcharge",
            metric_name="CommandTimeoutsWorstSite",
            dimensions_map={"service": "parkcharge"},
            statistic="Maximum",
            period=cdk.Duration.minutes(1),
        )
        cloudwatch.Alarm(
            self,
            "SiteCommandTimeouts",
            metric=worst,
            threshold=SITE_TIMEOUT_WAVE,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            alarm_description=f"{SITE_TIMEOUT_WAVE} or more device commands timed out at one site within a "
            "minute: see the CommandTimeouts metric by site",
        )

    def _alarm_notifications(self) -> None:
        """An SNS topic (encrypted; the e-mail address is a deploy parameter) as the action of
        every alarm in the stack, on alarm and when it is OK again."""
        email = cdk.CfnParameter(
            self,
            "AlarmEmail",
            type="String",
            allowed_pattern=r"[^@\s]+@[^@\s]+",
            description="Where alarms are sent (the address confirms the subscription once)",
        )
        key = kms.Key(
            self,
            "AlarmTopicKey",
            enable_key_rotation=True,
            description="parkcharge alarm notifications",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        key.grant(iam.ServicePrincipal("cloudwatch.amazonaws.com"), "kms:Decrypt", "kms:GenerateDataKey*")
        self.alarm_topic = sns.Topic(
            self, "AlarmTopic", display_name="parkcharge alarms", master_key=key, enforce_ssl=True
        )
        # The topic's own policy (SSL only) replaces the default one: CloudWatch needs an allow.
        self.alarm_topic.add_to_resource_policy(
            iam.PolicyStatement(
                actions=["sns:Publish"],
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                resources=[self.alarm_topic.topic_arn],
                conditions={
                    "ArnLike": {
                        "aws:SourceArn": f"arn:{self.partition}:cloudwatch:{self.region}:"
                        f"{self.account}:alarm:*"
                    }
                },
            )
        )
        self.alarm_topic.add_subscription(subscriptions.EmailSubscription(email.value_as_string))
        action = cloudwatch_actions.SnsAction(self.alarm_topic)
        for node in self.node.find_all():
            if isinstance(node, cloudwatch.Alarm):
                node.add_alarm_action(action)
                node.add_ok_action(action)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.alarm_topic.topic_arn)
