"""Every resource the stack must create, with the properties that make it safe."""
from __future__ import annotations

import json

from aws_cdk.assertions import Match

from infra.settings import Settings
from infra.stack import WORKFLOW_STEPS, function_specs

HANDLERS = [
    "functions.intake.handler", "functions.chat_api.handler", "functions.approval_api.handler",
    "functions.deliver_decisions.handler", "functions.migrate.handler",
    *[f"functions.workflow.{s}.handler" for s in WORKFLOW_STEPS],
]


def test_every_function_is_python312_arm64_traced_with_its_own_role_and_log_group(views):
    roles, log_groups = set(), set()
    for handler in HANDLERS:
        _, fn = views.function(handler)
        props = fn["Properties"]
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        assert props["TracingConfig"] == {"Mode": "Active"}
        roles.add(props["Role"]["Fn::GetAtt"][0])
        log_groups.add(props["LoggingConfig"]["LogGroup"]["Ref"])
        assert not views.resources[props["Role"]["Fn::GetAtt"][0]]["Properties"].get("ManagedPolicyArns")
    assert len(roles) == len(HANDLERS) and len(log_groups) == len(HANDLERS)


def test_functions_of_a_kind_share_one_asset_and_kinds_do_not(views):
    by_asset: dict[str, set[str]] = {}
    for fn in views.of_type("AWS::Lambda::Function").values():
        if fn["Properties"]["Handler"] in HANDLERS:
            by_asset.setdefault(json.dumps(fn["Properties"]["Code"]["S3Key"]), set()).add(fn["Properties"]["Handler"])
    assert {frozenset(handlers) for handlers in by_asset.values()} == {
        frozenset({"functions.intake.handler", "functions.approval_api.handler", "functions.deliver_decisions.handler"}),
        frozenset({"functions.chat_api.handler", "functions.migrate.handler"}),
        frozenset(f"functions.workflow.{s}.handler" for s in WORKFLOW_STEPS),
    }


def test_snapstart_on_graph_functions_and_every_function_has_a_live_alias(views):
    snap = {fn["Properties"]["Handler"] for fn in views.of_type("AWS::Lambda::Function").values()
            if fn["Properties"].get("SnapStart")}
    assert snap == {"functions.chat_api.handler"}  # the one function that runs the LangGraph graph
    assert len(views.of_type("AWS::Lambda::Alias")) == len(HANDLERS)


def test_every_function_runs_in_the_vpc_with_the_database_settings(views):
    for handler in HANDLERS:
        _, fn = views.function(handler)
        assert "VpcConfig" in fn["Properties"], handler
        env = views.env(handler)
        assert {"DB_SECRET_ARN", "DB_PROXY_ENDPOINT", "DB_NAME"} <= env.keys(), handler
        assert env["ALLOW_WRITE"] == "true" and env["ALLOWED_CLUSTERS"] == "prod,staging"
        assert {"POWERTOOLS_SERVICE_NAME", "LOG_LEVEL", "ECS_AGENT_MODEL"} <= env.keys()


def test_function_environment_contract(views):
    assert "STATE_MACHINE_ARN" in views.env("functions.intake.handler")
    assert {"NOTIFICATION_TOPIC_ARN", "APPROVAL_KEY_SECRET_ARN", "APPROVAL_BASE_URL"} <= views.env(
        "functions.workflow.request_approval.handler").keys()
    assert {"STATE_MACHINE_ARN", "APPROVAL_KEY_SECRET_ARN", "APPROVAL_BASE_URL"} <= views.env(
        "functions.approval_api.handler").keys()
    assert {"STATE_MACHINE_ARN", "REPORTS_BUCKET", "APPROVAL_BASE_URL"} <= views.env("functions.chat_api.handler").keys()
    assert "REPORTS_BUCKET" in views.env("functions.workflow.report.handler")
    assert "APPROVAL_KEY_SECRET_ARN" not in views.env("functions.workflow.triage.handler")


def test_intake_may_start_executions_and_read_the_database_secret(views):
    actions = views.actions(views.role_of("functions.intake.handler"))
    assert {"states:StartExecution", "secretsmanager:GetSecretValue"} <= actions


def test_verification_ceiling_reaches_the_workflow_and_the_functions_that_start_it(views):
    ceiled = [f"functions.workflow.{s}.handler" for s in WORKFLOW_STEPS] + \
        ["functions.intake.handler", "functions.chat_api.handler"]
    for handler in ceiled:
        assert views.env(handler)["VERIFY_CEILING_S"] == "3600", handler  # verifyCeilingMinutes defaults to 60
    assert "VERIFY_CEILING_S" not in views.env("functions.approval_api.handler")


def test_no_reserved_concurrency_by_default_so_a_fresh_account_can_deploy(views):
    reserved = [fn["Properties"]["Handler"] for fn in views.of_type("AWS::Lambda::Function").values()
                if "ReservedConcurrentExecutions" in fn["Properties"]]
    assert reserved == []
    assert function_specs(Settings.from_context({"chatConcurrency": "5"}.get))["chat_api"].reserved_concurrency == 5


def test_remediate_timeout_retry_can_run_because_the_state_outlasts_the_function(synth, views):
    """Lambda reports its own timeout as Sandbox.Timedout; a state timing out first would raise States.Timeout."""
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    states = json.loads((synth.path.parent / f"asset.{props['DefinitionS3Location']['Key']}").read_text())["States"]
    retried = []
    for name, state in states.items():
        if not any("Sandbox.Timedout" in r["ErrorEquals"] for r in state.get("Retry", [])):
            continue
        placeholder = state["Resource"].strip("${}")
        alias = views.resources[props["DefinitionSubstitutions"][placeholder]["Ref"]]
        function = views.resources[alias["Properties"]["FunctionName"]["Ref"]]
        assert state["TimeoutSeconds"] > function["Properties"]["Timeout"], name
        retried.append(name)
    assert "Remediate" in retried


def test_vpc_is_private_with_endpoints_for_every_aws_api(synth, views):
    template = synth.template
    template.resource_count_is("AWS::EC2::NatGateway", 0)
    template.resource_count_is("AWS::EC2::InternetGateway", 0)
    services = json.dumps([e["Properties"]["ServiceName"] for e in views.of_type("AWS::EC2::VPCEndpoint").values()])
    for service in ("ecs", "logs", "monitoring", "states", "sns", "secretsmanager", "bedrock-runtime", "sts",
                    "xray", "s3"):
        assert f'.{service}"' in services, service
    template.resource_count_is("AWS::EC2::FlowLog", 1)


def test_postgres_is_encrypted_backed_up_protected_rotated_and_behind_a_tls_proxy(synth):
    t = synth.template
    t.has_resource_properties("AWS::RDS::DBInstance", {
        "Engine": "postgres", "StorageEncrypted": True, "BackupRetentionPeriod": 7, "DeletionProtection": True,
        "PubliclyAccessible": False, "EnableIAMDatabaseAuthentication": True,
    })
    t.has_resource("AWS::RDS::DBInstance", {"DeletionPolicy": "Snapshot"})
    t.has_resource_properties("AWS::RDS::DBProxy", {"RequireTLS": True, "EngineFamily": "POSTGRESQL"})
    t.has_resource_properties("AWS::SecretsManager::RotationSchedule",
                              {"RotationRules": {"ScheduleExpression": "rate(30 days)"}})


def test_state_machine_uses_the_repo_definition_with_every_step_alias_logging_and_tracing(synth, views):
    (machine,) = views.of_type("AWS::StepFunctions::StateMachine").values()
    props = machine["Properties"]
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["TracingConfiguration"] == {"Enabled": True}
    substitutions = props["DefinitionSubstitutions"]
    # The definition ships as a file asset, placeholders intact, substituted by CloudFormation.
    definition = (synth.path.parent / f"asset.{props['DefinitionS3Location']['Key']}").read_text()
    for step in ("Triage", "Plan", "RequestApproval", "Remediate", "Verify", "Report"):
        assert f"${{{step}FunctionArn}}" in definition
        alias = substitutions[f"{step}FunctionArn"]["Ref"]
        assert views.resources[alias]["Type"] == "AWS::Lambda::Alias"


def test_four_rules_scoped_to_the_clusters_with_retries_and_a_dead_letter_queue(views):
    rules = {r["Properties"]["EventPattern"]["detail-type"][0]: r["Properties"]
             for r in views.of_type("AWS::Events::Rule").values() if "EventPattern" in r["Properties"]}
    assert set(rules) == {"ECS Task State Change", "ECS Deployment State Change", "ECS Service Action",
                          "CloudWatch Alarm State Change"}
    task = rules["ECS Task State Change"]["EventPattern"]["detail"]
    assert len(task["clusterArn"]) == 2 and task["lastStatus"] == ["STOPPED"]
    assert "cluster/staging" in json.dumps(task["clusterArn"])
    assert len(rules["ECS Service Action"]["EventPattern"]["detail"]["clusterArn"]) == 2
    deploy = rules["ECS Deployment State Change"]["EventPattern"]
    assert "service/prod/" in json.dumps(deploy["resources"]) and "service/staging/" in json.dumps(deploy["resources"])
    alarm = rules["CloudWatch Alarm State Change"]["EventPattern"]["detail"]
    assert alarm["state"] == {"value": ["ALARM"]} and "prod" in json.dumps(alarm["$or"])
    for rule in rules.values():
        (target,) = rule["Targets"]
        assert target["RetryPolicy"]["MaximumRetryAttempts"] == 8
        assert "DeadLetterConfig" in target
    (invoke_config,) = views.of_type("AWS::Lambda::EventInvokeConfig").values()
    assert "IntakeFunctionAlias" in json.dumps(invoke_config["Properties"]["Qualifier"])
    assert "OnFailure" in invoke_config["Properties"]["DestinationConfig"]


def test_notification_topic_is_kms_encrypted_with_email_subscriptions(synth):
    t = synth.template
    t.has_resource_properties("AWS::SNS::Topic", {"KmsMasterKeyId": Match.any_value()})
    t.resource_properties_count_is("AWS::SNS::Subscription", {"Protocol": "email"}, 2)
    t.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})


def test_the_account_wide_api_gateway_logging_role_outlives_the_stack(views):
    (account,) = views.of_type("AWS::ApiGateway::Account").values()
    role = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    assert views.resources[role]["DeletionPolicy"] == "Retain"


def test_reports_bucket_is_private_encrypted_versioned_ssl_only_with_lifecycle(synth, views):
    buckets = [b for b in views.of_type("AWS::S3::Bucket").values() if "LoggingConfiguration" in b["Properties"]]
    (bucket,) = buckets
    props = bucket["Properties"]
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"}
    assert props["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 365
    policies = json.dumps(list(views.of_type("AWS::S3::BucketPolicy").values()))
    assert '"aws:SecureTransport": "false"' in policies


def test_api_chat_routes_need_iam_approval_routes_are_open_all_validated_throttled_logged(views):
    resources = views.of_type("AWS::ApiGateway::Resource")
    by_path = {}
    for method in views.of_type("AWS::ApiGateway::Method").values():
        part = resources[method["Properties"]["ResourceId"]["Ref"]]["Properties"]["PathPart"]
        by_path.setdefault(part, {})[method["Properties"]["HttpMethod"]] = method["Properties"]
        assert "RequestValidatorId" in method["Properties"]
    assert by_path["threads"]["POST"]["AuthorizationType"] == "AWS_IAM"
    assert by_path["{id}"]["GET"]["AuthorizationType"] == "AWS_IAM"
    assert by_path["messages"]["POST"]["AuthorizationType"] == "AWS_IAM"
    assert by_path["{token}"]["GET"]["AuthorizationType"] == "NONE"
    assert by_path["{token}"]["POST"]["AuthorizationType"] == "NONE"
    (stage,) = views.of_type("AWS::ApiGateway::Stage").values()
    settings = stage["Properties"]["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == 20 and settings["ThrottlingBurstLimit"] == 40
    assert "DestinationArn" in stage["Properties"]["AccessLogSetting"]
    assert stage["Properties"]["TracingEnabled"] is True


def test_alarms_cover_every_function_dlq_workflow_and_api_and_notify(views):
    alarms = views.of_type("AWS::CloudWatch::Alarm").values()
    metrics = [(a["Properties"]["Namespace"], a["Properties"]["MetricName"]) for a in alarms]
    assert metrics.count(("AWS/Lambda", "Errors")) == len(HANDLERS)
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in metrics
    for name in ("ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"):
        assert ("AWS/States", name) in metrics
    assert ("AWS/ApiGateway", "5XXError") in metrics
    assert all(a["Properties"]["AlarmActions"] for a in alarms)
    assert len(views.of_type("AWS::CloudWatch::Dashboard")) == 1


def test_migrations_run_as_a_custom_resource_after_the_proxy(views):
    (migration,) = views.of_type("AWS::CloudFormation::CustomResource").values()
    assert any("Proxy" in d for d in migration["DependsOn"])
    assert "CodeVersion" in migration["Properties"]


def test_recorded_decisions_the_workflow_was_not_told_are_delivered_every_minute(views):
    """The outbox's deliverer: a schedule that invokes the decision deliverer, which may answer the workflow."""
    [schedule] = [r["Properties"] for r in views.of_type("AWS::Events::Rule").values()
                  if "ScheduleExpression" in r["Properties"]]
    assert schedule["ScheduleExpression"] == "rate(1 minute)" and schedule["State"] == "ENABLED"
    [target] = schedule["Targets"]
    alias = views.resources[target["Arn"]["Ref"]]
    assert alias["Type"] == "AWS::Lambda::Alias"
    function = views.resources[alias["Properties"]["FunctionName"]["Ref"]]
    assert function["Properties"]["Handler"] == "functions.deliver_decisions.handler"
    assert views.role_of("functions.deliver_decisions.handler") in views.roles_with_action("states:SendTaskSuccess")
