"""REST API: chat routes behind IAM (SigV4), approval routes open (the link is signed), throttled, logged."""
from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from cdk_nag import NagSuppressions
from constructs import Construct

from ..checkov import acknowledge

APPROVAL_LINKS = ("Approval links are opened from email by people without AWS credentials; the token is an "
                  "HMAC-signed, expiring, single-use link verified by the handler.")

STAGE = "v1"
JSON_OBJECT = {"type": apigw.JsonSchemaType.OBJECT}


class Api(Construct):
    def __init__(self, scope: Construct, id: str, *, log_retention: logs.RetentionDays, rate_limit: int = 20,
                 burst_limit: int = 40):
        super().__init__(scope, id)
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=log_retention,
                                         removal_policy=RemovalPolicy.DESTROY)
        self.rest_api = apigw.RestApi(
            self, "Api",
            description="ECS incident agent: chat threads, incidents, approvals",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            # The role API Gateway logs through is a setting of the account and Region, shared by every REST API
            # there: destroying this stack must not delete it from under the others.
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=STAGE,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=True, http_method=True, ip=True, protocol=True, request_time=True,
                    resource_path=True, response_length=True, status=True, user=True),
            ),
        )
        acknowledge(self.rest_api.deployment_stage, "CKV_AWS_120", "No response cache: every answer is per caller "
                    "and changes with the incident, and an approval page must never be served twice.")
        self.validator = self.rest_api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True)
        self.body_model = self.rest_api.add_model("JsonObject", content_type="application/json",
                                                  schema=apigw.JsonSchema(**JSON_OBJECT))
        NagSuppressions.add_resource_suppressions(self.rest_api, [
            {"id": "AwsSolutions-APIG3", "reason": "No WAF by default: chat routes need SigV4 and approval links are "
             "HMAC-signed, expiring and single use; stage throttling caps the rate. Attach a web ACL if wanted."},
            {"id": "AwsSolutions-IAM4", "reason": "The API Gateway account role that pushes logs to CloudWatch uses "
             "AmazonAPIGatewayPushToCloudWatchLogs, the policy made for it.",
             "appliesTo": ["Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                            "AmazonAPIGatewayPushToCloudWatchLogs"]},
        ], apply_to_children=True)

    @property
    def base_url(self) -> str:
        """Built from the API id (not the stage URL) so functions behind the API can know it without a cycle."""
        return f"https://{self.rest_api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/{STAGE}"

    def add_chat_routes(self, handler: lambda_.IFunction) -> None:
        integration = apigw.LambdaIntegration(handler)
        iam_auth = dict(authorization_type=apigw.AuthorizationType.IAM, request_validator=self.validator)
        with_body = dict(iam_auth, request_models={"application/json": self.body_model})
        threads = self.rest_api.root.add_resource("threads")
        threads.add_method("POST", integration, **with_body)
        thread = threads.add_resource("{id}")
        thread.add_method("GET", integration, request_parameters={"method.request.path.id": True}, **iam_auth)
        for action in ("messages", "approvals"):
            thread.add_resource(action).add_method(
                "POST", integration, request_parameters={"method.request.path.id": True}, **with_body)
        incident = self.rest_api.root.add_resource("incidents").add_resource("{id}")
        incident.add_method("GET", integration, request_parameters={"method.request.path.id": True}, **iam_auth)

    def add_approval_routes(self, handler: lambda_.IFunction) -> None:
        integration = apigw.LambdaIntegration(handler)
        approval = self.rest_api.root.add_resource("approvals").add_resource("{token}")
        for verb in ("GET", "POST"):
            method = approval.add_method(verb, integration, authorization_type=apigw.AuthorizationType.NONE,
                                         request_validator=self.validator,
                                         request_parameters={"method.request.path.token": True})
            NagSuppressions.add_resource_suppressions(method, [{"id": "AwsSolutions-APIG4", "reason": APPROVAL_LINKS}])
            acknowledge(method, "CKV_AWS_59", APPROVAL_LINKS)
        NagSuppressions.add_resource_suppressions(self.rest_api, [
            {"id": "AwsSolutions-COG4", "reason": "Chat routes use IAM (SigV4) authorization instead of Cognito; "
             "approval routes are authorized by the signed link (see APIG4)."},
        ], apply_to_children=True)
