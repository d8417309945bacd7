"""CDK entry point (`cdk.json`: `.venv/bin/python -m infra.app`). Works without AWS credentials."""
from __future__ import annotations

import os

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from .checkov import CheckovAcknowledgements
from .settings import Settings
from .stack import EcsIncidentAgentStack

# CDK behaviours this app relies on, kept here so tests and `cdk synth` build the same template.
FEATURE_FLAGS = {
    # Access logs delivered under a bucket policy, not the legacy log-delivery ACL.
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,
}


def build_app(context: dict | None = None, outdir: str | None = None) -> tuple[cdk.App, EcsIncidentAgentStack]:
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    settings = Settings.from_context(app.node.try_get_context)
    # Synth needs no account: without credentials the stack is account/region agnostic.
    env = cdk.Environment(account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION"))
    stack = EcsIncidentAgentStack(app, settings.stack_name, settings=settings, env=env)
    cdk.Aspects.of(app).add(AwsSolutionsChecks(verbose=True))
    cdk.Aspects.of(app).add(CheckovAcknowledgements())
    return app, stack


def main() -> None:
    app, _ = build_app()
    app.synth()


if __name__ == "__main__":
    main()
