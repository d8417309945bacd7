"""VPC with private subnets; AWS APIs reached through VPC endpoints (default) or one NAT gateway."""
from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

# Every AWS API a function in the VPC calls (X-Ray for the Tracer's segments).
INTERFACE_ENDPOINTS = {
    "Ecs": ec2.InterfaceVpcEndpointAwsService.ECS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "StepFunctions": ec2.InterfaceVpcEndpointAwsService.STEP_FUNCTIONS,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "BedrockRuntime": ec2.InterfaceVpcEndpointAwsService.BEDROCK_RUNTIME,
    "Sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
}


VPC_CIDR = "10.0.0.0/16"


class Network(Construct):
    def __init__(self, scope: Construct, id: str, *, mode: str, log_retention: logs.RetentionDays,
                 bedrock_control_plane: bool = False):
        super().__init__(scope, id)
        private_type = ec2.SubnetType.PRIVATE_ISOLATED if mode == "endpoints" else ec2.SubnetType.PRIVATE_WITH_EGRESS
        subnets = [ec2.SubnetConfiguration(name="private", subnet_type=private_type, cidr_mask=24)]
        if mode == "nat":
            subnets.append(ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24))
        self.vpc = ec2.Vpc(
            self, "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(VPC_CIDR),
            max_azs=2,
            nat_gateways=1 if mode == "nat" else 0,
            subnet_configuration=subnets,
            restrict_default_security_group=True,
        )
        flow_logs = logs.LogGroup(self, "FlowLogs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY)
        self.vpc.add_flow_log("FlowLog", destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
                              traffic_type=ec2.FlowLogTrafficType.REJECT)
        self.private_subnets = ec2.SubnetSelection(subnet_type=private_type)
        # S3 (reports) through a free gateway endpoint in both modes.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        if mode == "endpoints":
            # HTTPS from anything in the VPC (functions and the secret rotation function).
            endpoints_sg = ec2.SecurityGroup(self, "EndpointsSg", vpc=self.vpc, allow_all_outbound=False,
                                             description="Interface VPC endpoints: HTTPS from the VPC")
            endpoints_sg.add_ingress_rule(ec2.Peer.ipv4(VPC_CIDR), ec2.Port.tcp(443), "HTTPS from the VPC")
            endpoints = dict(INTERFACE_ENDPOINTS)
            if bedrock_control_plane:
                # langchain-aws asks the Bedrock control plane which model an application inference profile runs.
                endpoints["Bedrock"] = ec2.InterfaceVpcEndpointAwsService.BEDROCK
            for name, service in endpoints.items():
                self.vpc.add_interface_endpoint(name, service=service, subnets=self.private_subnets,
                                                private_dns_enabled=True, open=False,
                                                security_groups=[endpoints_sg])
        self.lambda_sg = ec2.SecurityGroup(self, "FunctionsSg", vpc=self.vpc,
                                           description="Agent Lambda functions (outbound to AWS APIs and RDS Proxy)")
