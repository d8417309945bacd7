"""`ecs-agent demo`: the whole story on the built-in sandbox, approved and rejected."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agents.aws_ecs_service.interfaces.demo import run_demo
from agents.aws_ecs_service.reports.incident_reports import REPORT_NAMES
from agents.aws_ecs_service.sandbox import Sandbox
from tests.e2e.serverless_world import wait_for

ECS_AGENT = Path(sys.executable).with_name("ecs-agent")
pytestmark = pytest.mark.slow  # the sandbox's HTTP server, and the console script in a subprocess
STAGES = ["[1/6] sandbox", "[2/6] triage", "[3/6] plan", "[4/6] approval", "[5/6] remediate", "[6/6] verify"]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    # Settings that would point a boto3 client elsewhere: the demo must not be led astray by them.
    env.update(AWS_PROFILE="no-such-profile", AWS_ENDPOINT_URL_ECS="http://127.0.0.1:9", ECS_AGENT_MODEL="offline",
               **extra)
    return env


def test_console_script_demo_with_yes_tells_the_story_and_writes_four_reports(tmp_path):
    out = tmp_path / "demo-out"
    proc = subprocess.run([str(ECS_AGENT), "demo", "--yes", "--out", str(out)], env=_clean_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    story = proc.stdout
    positions = [story.index(stage) for stage in STAGES]
    assert positions == sorted(positions)
    assert "image-not-found" in story.split("[2/6]")[1].split("[3/6]")[0]
    assert "ecs:UpdateService(cluster=demo, service=api, taskDefinition=api:47)" in story
    assert "approved automatically inside the sandbox (--yes)" in story
    assert "PASSED" in story.split("[6/6]")[1]
    for name in REPORT_NAMES:
        assert str(out / name) in story
    assert "Traceback" not in proc.stderr

    triage, plan, verify, summary = ((out / name).read_text() for name in REPORT_NAMES)
    assert "`image-not-found`" in triage and "CannotPullContainerError" in triage
    plan_hash = re.search(r"\*\*Plan hash:\*\* `([0-9a-f]{32})`", plan).group(1)
    assert "### Step 1:" in plan and "taskDefinition=api:47" in plan and "## Rollback of the rollback" in plan
    assert "## What a human must do" in plan and "api:48" in plan.split("## What a human must do")[1]
    assert "**Result:** PASSED" in verify and "| service steady | pass | api:48 | api:47 COMPLETED |" in verify
    assert "| alarm api-deployment-stuck OK | pass | ALARM | OK |" in verify
    assert "**Outcome:** Resolved" in summary
    assert f"| approved | sandbox auto-approval (--yes) | sandbox | {plan_hash} |" in summary
    writes = summary.split("## AWS write calls (audit log)")[1].split("##")[0]
    assert writes.count("ecs:UpdateService") == 1 and "| yes |" in writes and "| ok |" in writes
    assert "| ecs:UpdateService taskDefinition | api:48 | api:47 |" in summary
    assert "```mermaid\ntimeline" in summary


def test_rejected_at_the_prompt_changes_nothing_and_the_reports_say_so(tmp_path):
    sandbox = Sandbox()
    asked: list[str] = []
    lines: list[str] = []

    def answer(prompt: str) -> str:
        asked.append(prompt)
        return "n"

    code = run_demo(tmp_path, assume_yes=False, stdin_is_tty=True, print_fn=lines.append, input_fn=answer,
                    sandbox=sandbox)
    assert code == 0
    assert sandbox.ecs_writes == []  # not one write call reached the (sandbox) ECS API
    plan_hash = re.search(r"\*\*Plan hash:\*\* `([0-9a-f]{32})`", (tmp_path / "plan_repair_plan.md").read_text())[1]
    assert asked == [f"{'':17}Approve plan {plan_hash}? [y/N] "]
    assert not any(line.startswith(("[5/6]", "[6/6]")) for line in lines)
    summary = (tmp_path / "report_summary.md").read_text()
    assert "Rejected: the plan was not approved, so no change was made to AWS." in summary
    assert "| rejected |" in summary and "answered 'n' at the prompt" in summary
    assert "No AWS write call was made." in summary
    assert "not run — the plan was rejected" in (tmp_path / "verify_post_check.md").read_text()


def test_no_terminal_on_stdin_approves_inside_the_sandbox_and_says_why(tmp_path):
    lines: list[str] = []
    sandbox = Sandbox()
    code = run_demo(tmp_path, assume_yes=False, stdin_is_tty=False, print_fn=lines.append,
                    input_fn=lambda _prompt: (_ for _ in ()).throw(AssertionError("must not prompt")), sandbox=sandbox)
    assert code == 0
    assert any("approved automatically inside the sandbox (no terminal on stdin)" in line for line in lines)
    assert [w["operation"] for w in sandbox.ecs_writes] == ["UpdateService"]
    assert "**Outcome:** Resolved" in (tmp_path / "report_summary.md").read_text()


def test_sandbox_scheduler_completes_only_a_rollout_whose_image_exists():
    import boto3

    with Sandbox(settle_seconds=0.2) as sandbox, sandbox.aws_environment():
        ecs = boto3.session.Session().client("ecs")
        assert ecs.meta.endpoint_url == sandbox.endpoint  # reached through AWS_ENDPOINT_URL, as real AWS would be
        stopped_before = len(ecs.list_tasks(cluster="demo", serviceName="api", desiredStatus="STOPPED")["taskArns"])
        ecs.update_service(cluster="demo", service="api", forceNewDeployment=True)  # api:48 again: the tag is missing

        def stopped_tasks() -> list[str]:
            return ecs.list_tasks(cluster="demo", serviceName="api", desiredStatus="STOPPED")["taskArns"]

        # the scheduler acts once, settle_seconds after the call: wait for its three failed starts
        stopped = wait_for(lambda: len(stopped_tasks()) >= stopped_before + 3 and stopped_tasks(), timeout=60,
                           what="the sandbox scheduler's failed starts")
        svc = ecs.describe_services(cluster="demo", services=["api"])["services"][0]
        assert [d["rolloutState"] for d in svc["deployments"]] == ["IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
        newest = ecs.describe_tasks(cluster="demo", tasks=stopped)["tasks"]
        assert len(stopped) == stopped_before + 3
        assert any(t["stoppedReason"].startswith("CannotPullContainerError") and "api:v2.4.1: not found"
                   in t["stoppedReason"] for t in newest)

        ecs.update_service(cluster="demo", service="api", taskDefinition="api:47")
        ecs.get_waiter("services_stable").wait(cluster="demo", services=["api"],
                                               WaiterConfig={"Delay": 0.2, "MaxAttempts": 25})
        svc = ecs.describe_services(cluster="demo", services=["api"])["services"][0]
        assert (svc["runningCount"], svc["desiredCount"]) == (3, 3)
        assert svc["events"][0]["message"] == "(service api) has reached a steady state."
        alarm = boto3.session.Session().client("cloudwatch").describe_alarms(
            AlarmNames=["api-deployment-stuck"])["MetricAlarms"][0]
        assert alarm["StateValue"] == "OK"
        assert [w["operation"] for w in sandbox.ecs_writes] == ["UpdateService", "UpdateService"]
