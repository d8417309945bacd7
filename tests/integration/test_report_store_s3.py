"""Reports in S3: key `incidents/<id>/<file>`, server-side encrypted (SSE-S3, or SSE-KMS with a key)."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.config import ECSDeepAgentConfig
from agents.aws_ecs_service.reports.store import ReportStore

BUCKET = "incident-reports"


@pytest.fixture
def s3(aws_env):
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


def test_configured_bucket_gets_sse_s3_objects_under_the_incident_prefix(s3, tmp_path):
    config = ECSDeepAgentConfig.load(env={"REPORTS_BUCKET": BUCKET, "AWS_REGION": "us-east-1"})
    store = ReportStore.from_config(config, local_dir=tmp_path, ctx=AwsContext(region="us-east-1"))
    locations = store.write_all("inc-42", {"triage_report.md": "# triage\n", "report_summary.md": "# summary\n"})
    assert locations == [f"s3://{BUCKET}/incidents/inc-42/triage_report.md",
                         f"s3://{BUCKET}/incidents/inc-42/report_summary.md"]
    obj = s3.get_object(Bucket=BUCKET, Key="incidents/inc-42/triage_report.md")
    assert obj["ServerSideEncryption"] == "AES256"
    assert obj["Body"].read() == b"# triage\n"
    assert obj["ContentType"].startswith("text/markdown")
    assert not list(tmp_path.iterdir())  # nothing written locally when S3 is configured


def test_kms_key_id_from_the_config_gives_sse_kms(s3):
    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    config = ECSDeepAgentConfig.load(env={"REPORTS_BUCKET": BUCKET, "REPORTS_KMS_KEY_ID": key_id})
    store = ReportStore.from_config(config, local_dir="unused", ctx=AwsContext(region="us-east-1"))
    assert store.write("inc-43", "verify_post_check.md", "ok") == f"s3://{BUCKET}/incidents/inc-43/verify_post_check.md"
    head = s3.head_object(Bucket=BUCKET, Key="incidents/inc-43/verify_post_check.md")
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"].endswith(key_id)


def test_no_bucket_means_the_local_folder(tmp_path):
    store = ReportStore.from_config(ECSDeepAgentConfig.load(env={}), local_dir=tmp_path / "r")
    assert store.bucket is None
    assert store.write("inc-1", "a.md", "x") == str(tmp_path / "r" / "a.md")
