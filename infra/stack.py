"""The whole product in one stack: network, database, functions, workflow, API, events, notifications,
reports, monitoring."""
from __future__ import annotations

from aws_cdk import Annotations, Aws, CfnOutput, CustomResource, Duration, RemovalPolicy, Stack, Token
from aws_cdk import aws_events as events_lib
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import custom_resources as cr
from cdk_nag import NagSuppressions
from constructs import Construct

from .assets import ASSET_KINDS
from .bedrock_model import BedrockModel, ModelRegionError
from .bundling import AssetBuild, function_code
from .checkov import acknowledge
from .constructs import permissions
from .constructs.api import Api
from .constructs.database import Database
from .constructs.events import IncidentEvents
from .constructs.functions import METRICS_NAMESPACE, SERVICE_NAME, AgentFunction, FunctionSpec
from .constructs.monitoring import Monitoring
from .constructs.network import Network
from .constructs.notifications import Notifications
from .constructs.reports import Reports
from .constructs.workflow import Workflow
from .nag import acknowledge_wildcards
from .settings import REPO_ROOT, Settings

WORKFLOW_STEPS = ("triage", "plan", "request_approval", "remediate", "verify", "report")
# The functions that decide, ask for or apply a change: they get the writable clusters (WRITE_CLUSTERS).
WRITE_SCOPED = ("plan", "request_approval", "remediate", "report", "chat_api")
# The workflow's steps and the functions that start executions (and so set its waits) get VERIFY_CEILING_S.
VERIFY_CEILED = (*WORKFLOW_STEPS, "intake", "chat_api")


def function_specs(settings: Settings) -> dict[str, FunctionSpec]:
    workflow = {
        step: FunctionSpec(handler=f"functions.workflow.{step}.handler", description=f"Incident workflow: {step}",
                           asset="workflow", memory_mb=1024, timeout_s=300)
        for step in WORKFLOW_STEPS
    }
    return {
        "intake": FunctionSpec(handler="functions.intake.handler", asset="light", memory_mb=256, timeout_s=30,
                               description="EventBridge incident events to incidents and Step Functions executions"),
        "chat_api": FunctionSpec(handler="functions.chat_api.handler", asset="graph", memory_mb=1536, timeout_s=60,
                                 graph=True, reserved_concurrency=settings.chat_concurrency or None,
                                 description="Chat API: threads, messages, incidents (LangGraph + Bedrock)"),
        "approval_api": FunctionSpec(handler="functions.approval_api.handler", asset="light", timeout_s=15,
                                     description="Signed approval links: show the plan, record the decision"),
        "deliver_decisions": FunctionSpec(handler="functions.deliver_decisions.handler", asset="light", timeout_s=60,
                                          description="Every minute: tell waiting workflows the approval decisions "
                                                      "that could not be delivered yet"),
        **workflow,
        "migrate": FunctionSpec(handler="functions.migrate.handler", asset="graph", timeout_s=300,
                                description="Custom resource: checkpointer tables and approvals table"),
    }


def asset_builds(specs: dict[str, FunctionSpec], settings: Settings) -> dict[str, AssetBuild]:
    """One asset per kind, serving the handler modules of the functions of that kind."""
    handlers: dict[str, list[str]] = {}
    for spec in specs.values():
        handlers.setdefault(spec.asset, []).append(spec.handler.rpartition(".")[0])
    return {kind: AssetBuild(ASSET_KINDS[kind], tuple(modules), REPO_ROOT, settings.lambda_deps_cache)
            for kind, modules in handlers.items()}


class EcsIncidentAgentStack(Stack):
    def __init__(self, scope: Construct, id: str, *, settings: Settings, **kwargs):
        super().__init__(scope, id, description="ECS incident agent: triage, approved remediation, reports", **kwargs)
        retention = _retention(settings.log_retention_days)
        model = BedrockModel.parse(settings.model_id)
        self._check_model_region(model)

        network = Network(self, "Network", mode=settings.network, log_retention=retention,
                          bedrock_control_plane=model.kind == "application-inference-profile")
        database = Database(self, "Database", vpc=network.vpc, subnets=network.private_subnets,
                            clients=network.lambda_sg, deletion_protection=settings.deletion_protection,
                            multi_az=settings.multi_az, backup_retention_days=settings.backup_retention_days,
                            log_retention=retention)
        notifications = Notifications(self, "Notifications", emails=settings.notification_emails)
        reports = Reports(self, "Reports", retention_days=settings.report_retention_days)
        api = Api(self, "Api", log_retention=retention)
        approval_key = secretsmanager.Secret(
            self, "ApprovalKey", description="HMAC key that signs approval links",
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=64, exclude_punctuation=True),
            removal_policy=RemovalPolicy.DESTROY,
        )
        acknowledge(approval_key, "CKV_AWS_149", "The approval link key is encrypted with Secrets Manager's AWS "
                    "managed key; only the two approval functions' roles may read it.")
        NagSuppressions.add_resource_suppressions(approval_key, [
            {"id": "AwsSolutions-SMG4", "reason": "Rotating the HMAC key invalidates every approval link in flight; "
             "rotate by hand (put a new secret value) when no approval is pending."},
        ])

        specs = function_specs(settings)
        code = {kind: function_code(build, settings.asset_mode) for kind, build in asset_builds(specs, settings).items()}
        common_env = {
            "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": settings.log_level,
            "ECS_AGENT_MODEL": settings.model_id,
            "ALLOW_WRITE": str(settings.allow_write).lower(),
            "ALLOWED_CLUSTERS": ",".join(settings.clusters),
        }
        db_env = {
            "DB_SECRET_ARN": database.secret.secret_arn,
            "DB_PROXY_ENDPOINT": database.endpoint,
            "DB_NAME": database.name,
        }
        self.functions: dict[str, AgentFunction] = {}
        for name, spec in specs.items():
            env = dict(common_env, **db_env)
            if name in WRITE_SCOPED:
                # Exactly the clusters IAM lets remediate change, so a plan never asks for a write IAM refuses.
                env["WRITE_CLUSTERS"] = ",".join(settings.writable_clusters)
            if name in VERIFY_CEILED:
                env["VERIFY_CEILING_S"] = str(settings.verify_ceiling_minutes * 60)
            fn = AgentFunction(self, _construct_id(name), spec=spec, code=code[spec.asset], environment=env,
                               vpc=network.vpc, subnets=network.private_subnets, security_group=network.lambda_sg,
                               log_retention=retention, snap_start=settings.snap_start)
            database.grant_connect(fn.role)
            self.functions[name] = fn
        f = self.functions

        # What each function does, and nothing else.
        # plan builds the plans from the stored triage (rules, no model, no AWS read): it gets neither
        for name in ("chat_api", "triage", "remediate", "verify"):
            permissions.allow_reads(f[name].role)
        permissions.allow_bedrock(f["chat_api"].role, model)
        if settings.writable_clusters:
            permissions.allow_writes(f["remediate"].role, settings.writable_clusters, settings.task_role_arns)
        bucket_objects = f"Resource::<{self.get_logical_id(reports.bucket.node.default_child)}.Arn>/*"
        for name in ("triage", "report"):
            reports.bucket.grant_put(f[name].role)
            acknowledge_wildcards(f[name].role, "Writes report and evidence objects (any key) in the reports "
                                  "bucket only; s3:Abort* lets failed multipart uploads be cleaned.",
                                  "Action::s3:Abort*", bucket_objects)
            _env(f[name], REPORTS_BUCKET=reports.bucket.bucket_name)
        reports.bucket.grant_read(f["chat_api"].role)
        acknowledge_wildcards(f["chat_api"].role, "Reads report objects of the reports bucket to sign download "
                              "links (CDK grantRead).", "Action::s3:GetObject*", "Action::s3:GetBucket*",
                              "Action::s3:List*", bucket_objects)
        _env(f["chat_api"], REPORTS_BUCKET=reports.bucket.bucket_name)
        # request_approval emails the approval links; report tells how the incident ended
        for name in ("request_approval", "report"):
            notifications.grant_publish(f[name].role)
            acknowledge_wildcards(f[name].role, "Publishing to the KMS-encrypted topic needs data keys from the "
                                  "topic's own key only.", "Action::kms:GenerateDataKey*")
            _env(f[name], NOTIFICATION_TOPIC_ARN=notifications.topic.topic_arn)
        for name in ("request_approval", "approval_api", "chat_api"):
            _env(f[name], APPROVAL_BASE_URL=api.base_url)
        for name in ("request_approval", "approval_api"):
            approval_key.grant_read(f[name].role)
            _env(f[name], APPROVAL_KEY_SECRET_ARN=approval_key.secret_arn)

        workflow = Workflow(self, "Workflow", definition=settings.state_machine_definition,
                            steps={step: f[step] for step in WORKFLOW_STEPS}, log_retention=retention)
        state_machine = workflow.state_machine
        # intake starts one execution per incident; chat starts the one that applies a plan approved in chat
        for name in ("intake", "chat_api"):
            state_machine.grant_start_execution(f[name].role)
        state_machine.grant_read(f["chat_api"].role)
        acknowledge_wildcards(f["chat_api"].role, "Reads the executions of the incident state machine only (their "
                              "names are incident keys known at run time).",
                              {"regex": "/^Resource::arn:<AWS::Partition>:states:.+:execution:.*$/"})
        # deciders and the deliverer tell the waiting state the decision
        for name in ("approval_api", "chat_api", "deliver_decisions"):
            state_machine.grant_task_response(f[name].role)
        # intake tells it to triage again when a different failure joins an incident that waits for approval
        f["intake"].role.add_to_policy(iam.PolicyStatement(actions=["states:SendTaskFailure"],
                                                           resources=[state_machine.state_machine_arn]))
        # intake tells a step scaling alarm (only scaling-policy actions) from an incident alarm
        f["intake"].role.add_to_policy(iam.PolicyStatement(
            actions=["cloudwatch:DescribeAlarms"],
            resources=[f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"]))
        acknowledge_wildcards(f["intake"].role, "DescribeAlarms of the alarm an event names (any alarm of this "
                              "account and Region: names are known only at run time).",
                              "Resource::arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*")
        events_lib.Rule(self, "DeliverDecisionsSchedule", schedule=events_lib.Schedule.rate(Duration.minutes(1)),
                        description="Deliver recorded approval decisions the workflow has not been told yet",
                        targets=[targets.LambdaFunction(f["deliver_decisions"].alias, retry_attempts=0)])
        # request_approval hands a decision already recorded to a retried step's new token. A policy of its
        # own: in the role's default policy the function would depend on the state machine that invokes it.
        iam.Policy(self, "RequestApprovalTaskResponse", roles=[f["request_approval"].role], statements=[
            iam.PolicyStatement(actions=["states:SendTaskSuccess", "states:SendTaskFailure"],
                                resources=[state_machine.state_machine_arn])])
        for name in ("intake", "approval_api", "chat_api", "deliver_decisions"):
            _env(f[name], STATE_MACHINE_ARN=state_machine.state_machine_arn)

        api.add_chat_routes(f["chat_api"].alias)
        api.add_approval_routes(f["approval_api"].alias)
        events = IncidentEvents(self, "Events", clusters=settings.clusters, intake=f["intake"].alias)
        # Events the intake function itself failed on (after Lambda's retries) land in the same queue.
        f["intake"].alias.configure_async_invoke(retry_attempts=2, max_event_age=Duration.hours(2),
                                                 on_failure=destinations.SqsDestination(events.dlq))

        self._migrations(f["migrate"], database, retention)
        Monitoring(self, "Monitoring", functions=f, dlq=events.dlq, state_machine=state_machine,
                   api=api.rest_api, topic=notifications.topic)

        CfnOutput(self, "ApiUrl", value=api.base_url)
        CfnOutput(self, "StateMachineArn", value=state_machine.state_machine_arn)
        CfnOutput(self, "ReportsBucketName", value=reports.bucket.bucket_name)
        CfnOutput(self, "NotificationTopicArn", value=notifications.topic.topic_arn)

    def _check_model_region(self, model: BedrockModel) -> None:
        """A model the deploy Region cannot invoke fails synth; a Region-agnostic stack cannot be checked."""
        if Token.is_unresolved(self.region):
            Annotations.of(self).add_warning_v2(
                "ecs-agent:modelRegionUnchecked",
                f"The stack has no Region at synth time, so modelId {model.model_id} could not be checked against "
                "it: set CDK_DEFAULT_REGION (or an AWS profile with a Region) to have synth check it.")
            return
        problem = model.problem_in(self.region)
        if problem:
            raise ModelRegionError(problem)

    def _migrations(self, migrate: AgentFunction, database: Database, retention: logs.RetentionDays) -> None:
        """Schema setup on every deploy that changes the migrate code (the handler is idempotent)."""
        provider = cr.Provider(self, "MigrationsProvider", on_event_handler=migrate.alias,
                               log_group=logs.LogGroup(self, "MigrationsProviderLogs", retention=retention,
                                                       removal_policy=RemovalPolicy.DESTROY))
        migration = CustomResource(self, "Migrations", service_token=provider.service_token,
                                   properties={"CodeVersion": migrate.function.current_version.version})
        migration.node.add_dependency(database.proxy)
        migration.node.add_dependency(database.instance)
        NagSuppressions.add_resource_suppressions(provider, [
            {"id": "AwsSolutions-IAM4", "reason": "CDK's custom-resource provider framework function uses "
             "AWSLambdaBasicExecutionRole for its own logs.",
             "appliesTo": ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]},
            {"id": "AwsSolutions-IAM5", "reason": "The provider framework may invoke every version of the migrate "
             "function (CDK grant on '<arn>:*').", "appliesTo": [{"regex": "/^Resource::<.*Migrate.*>:\\*$/"}]},
            {"id": "AwsSolutions-L1", "reason": "The provider framework's runtime is chosen by the CDK version."},
        ], apply_to_children=True)


def _env(fn: AgentFunction, **values: str) -> None:
    for key, value in values.items():
        fn.function.add_environment(key, value)


def _construct_id(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_")) + "Function"


_RETENTIONS = {
    1: logs.RetentionDays.ONE_DAY, 3: logs.RetentionDays.THREE_DAYS, 5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK, 14: logs.RetentionDays.TWO_WEEKS, 30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS, 90: logs.RetentionDays.THREE_MONTHS, 180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR, 731: logs.RetentionDays.TWO_YEARS, 1827: logs.RetentionDays.FIVE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


def _retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention that keeps at least `days` days."""
    return next((r for d, r in sorted(_RETENTIONS.items()) if d >= days), logs.RetentionDays.INFINITE)
