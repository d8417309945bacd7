"""The plan, verification and summary reports say what the contracts promise, for each outcome."""
from __future__ import annotations

import re

import pytest

from agents.aws_ecs_service.domain.incident import CheckResult, Incident, TimelineEvent, VerificationResult
from agents.aws_ecs_service.domain.plan import Approval, AuditEntry, Plan, PlanStep
from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.reports.plan_report import render_plan_report
from agents.aws_ecs_service.reports.store import ReportStore, ReportStoreError
from agents.aws_ecs_service.reports.summary_report import mermaid_text, render_summary_report
from agents.aws_ecs_service.reports.verify_report import render_verify_report

TARGET = ServiceTarget.from_names("123456789012", "us-east-1", "prod", "api")
CALL = "ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:47)"


def rollback_plan() -> Plan:
    return Plan(
        incident_id="inc-1", target=TARGET, root_cause="image-not-found", title="Roll back to api:47",
        summary="api:48 points at an image tag that does not exist; api:47 ran healthy for 12 days.",
        steps=[PlanStep(
            number=1, action="update_service_task_definition", api_call=CALL,
            params={"cluster": "prod", "service": "api", "taskDefinition": "api:47"},
            expected_before={"taskDefinition": "api:48", "desiredCount": 3},
            description="Point the service back at api:47",
            success_criteria=["deployment COMPLETED", "running == desired (3)"],
            undo="ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:48)")],
        risk="low", expected_duration_s=300, success_criteria=["deployment COMPLETED with a steady-state event"],
        manual_steps=["Push image api:v2.4.1 (or fix the tag) before deploying api:48 again"],
        rationale="The newest revision that completed a deployment is api:47.")


def incident(status: str = "resolved", **extra) -> Incident:
    plan = rollback_plan()
    base = dict(
        incident_id="inc-1", target=TARGET, trigger="manual", opened_at="2025-03-01T10:00:00+00:00", status=status,
        triage={"root_cause": {"category": "image-not-found", "confidence": 0.95,
                               "summary": "api:48 references api:v2.4.1, which does not exist"}},
        plans=[plan, Plan(incident_id="inc-1", target=TARGET, root_cause="image-not-found", option="manual",
                          title="Fix the image and redeploy", summary="Push the missing tag", steps=[])],
        chosen_plan_hash=plan.plan_hash,
        timeline=[TimelineEvent(at="2025-03-01T10:00:02+00:00", kind="triage", text="root cause image-not-found"),
                  TimelineEvent(at="2025-03-01T10:00:00+00:00", kind="triggered", text="ecs-agent demo"),
                  TimelineEvent(at="2025-03-01T10:00:05+00:00", kind="approval", text="approved: plan #a1; ok")],
    )
    base.update(extra)
    return Incident(**base)


def approved(plan_hash: str) -> Approval:
    return Approval(plan_hash=plan_hash, incident_id="inc-1", decision="approved", decided_by="alice@example.com",
                    decided_at="2025-03-01T10:00:05+00:00", channel="cli")


def written() -> AuditEntry:
    return AuditEntry(at="2025-03-01T10:00:06+00:00", incident_id="inc-1", plan_hash=rollback_plan().plan_hash,
                      operation="ecs:UpdateService", params={"service": "api", "taskDefinition": "api:47"},
                      allowed=True, reason="approved plan; before matched", result="ok",
                      before={"taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:48",
                              "desiredCount": 3},
                      after={"taskDefinition": "arn:aws:ecs:us-east-1:123456789012:task-definition/api:47",
                             "desiredCount": 3})


def verified(ok: bool = True) -> VerificationResult:
    return VerificationResult(
        ok=ok, started_at="2025-03-01T10:00:06+00:00", finished_at="2025-03-01T10:00:09.500000+00:00", polls=4,
        checks=[CheckResult(name="running == desired", ok=True, detail="3 of 3 running", before=0, after=3),
                CheckResult(name="deployment completed", ok=ok, detail="rolloutState COMPLETED" if ok else
                            "rolloutState IN_PROGRESS after 120 s", before="IN_PROGRESS",
                            after="COMPLETED" if ok else "IN_PROGRESS")],
        next_step="" if ok else "Look at the new stopped tasks; roll forward once the image exists.")


def test_plan_report_lists_each_step_with_call_criteria_risk_undo_and_human_work():
    text = render_plan_report(incident())
    plan = rollback_plan()
    assert plan.plan_hash in text
    assert "### Step 1: Point the service back at api:47" in text
    assert CALL in text
    assert '"taskDefinition": "api:48"' in text  # the compare-and-set "before"
    assert "running == desired (3)" in text
    assert "**Risk:** low" in text and "~5 min" in text
    assert "## Rollback of the rollback" in text and "taskDefinition=api:48)" in text.split("Rollback of the rollback")[1]
    assert "1. Push image api:v2.4.1" in text
    assert "Fix the image and redeploy" in text.split("## Other options considered")[1]


def test_plan_report_without_steps_says_nothing_is_automated():
    inc = incident(status="no-action")
    manual = inc.plans[1]
    inc.chosen_plan_hash = manual.plan_hash
    text = render_plan_report(inc)
    assert "No automated step" in text and "Nothing was changed" in text and "No approval is needed" in text


def test_verify_report_passed_shows_before_after_and_polls():
    text = render_verify_report(incident(verification=verified(True)))
    assert "**Result:** PASSED — 2/2 checks passed" in text
    assert "(3.5 s, 4 polls)" in text
    assert "| running == desired | pass | 0 | 3 | 3 of 3 running |" in text
    assert "Next step" not in text


def test_verify_report_failed_gives_evidence_and_next_step():
    text = render_verify_report(incident(status="failed", verification=verified(False)))
    assert "**Result:** FAILED — 1/2 checks passed" in text
    assert "rolloutState IN_PROGRESS after 120 s" in text.split("## What failed")[1]
    assert "roll forward once the image exists" in text.split("## Next step")[1]


@pytest.mark.parametrize("status, decision, needle", [
    ("rejected", "rejected", "the plan was rejected"),
    ("expired", "expired", "expired before anyone decided"),
])
def test_verify_report_not_run_says_why(status, decision, needle):
    inc = incident(status=status, approvals=[approved(rollback_plan().plan_hash).model_copy(
        update={"decision": decision})])
    assert needle in render_verify_report(inc)


def test_summary_report_resolved_has_timeline_approval_writes_before_after_and_mermaid():
    inc = incident(approvals=[approved(rollback_plan().plan_hash)], audit=[written()], verification=verified())
    text = render_summary_report(inc, {"triage_report.md": "/tmp/x/triage_report.md"})
    assert "**Outcome:** Resolved" in text
    timeline = text.split("## Timeline\n")[1].split("## Approvals")[0]
    assert timeline.index("ecs-agent demo") < timeline.index("root cause image-not-found")  # sorted by time
    assert "+2.0s" in timeline
    approvals = text.split("## Approvals")[1].split("## AWS write calls")[0]
    assert "alice@example.com" in approvals and "2025-03-01T10:00:05+00:00" in approvals and "approved" in approvals
    writes = text.split("## AWS write calls (audit log)")[1].split("## Before and after")[0]
    assert "ecs:UpdateService" in writes and "| yes |" in writes and "| ok |" in writes
    before_after = text.split("## Before and after")[1]
    assert "| ecs:UpdateService taskDefinition | api:48 | api:47 |" in before_after
    assert "desiredCount" not in before_after  # unchanged values are not "before and after"
    assert "| running == desired | 0 | 3 |" in before_after
    mermaid = text.split("```mermaid\n")[1].split("```")[0]
    assert mermaid.startswith("timeline\n")
    # Mermaid's grammar: "period : event : event"; no stray separators or entities in the texts.
    for line in mermaid.splitlines()[2:]:
        period, *events = line.strip().split(" : ")
        assert len(events) == 2 and ":" not in period
        assert not any(re.search(r":(\s|$)|[#;%]", e) for e in events)
    assert "/tmp/x/triage_report.md" in text


def test_summary_report_rejected_says_so_and_that_nothing_was_written():
    rejection = approved(rollback_plan().plan_hash).model_copy(update={"decision": "rejected", "comment": "not now"})
    text = render_summary_report(incident(status="rejected", approvals=[rejection]))
    assert "Rejected: the plan was not approved, so no change was made to AWS." in text
    assert "| rejected | alice@example.com |" in text and "not now" in text
    assert "No AWS write call was made." in text
    assert "**Verification:**" not in text


def test_summary_report_refused_calls_are_listed_and_flagged():
    refused = written().model_copy(update={"allowed": False, "reason": "allow_write is off", "result": "",
                                           "before": {}, "after": {}})
    text = render_summary_report(incident(status="failed", audit=[refused]))
    assert "| REFUSED | allow_write is off |" in text
    assert "Every call was refused: nothing was changed in AWS." in text


def test_mermaid_text_strips_separators_and_truncates():
    assert mermaid_text("UpdateService: api:47 #1; 5% done:") == "UpdateService - api:47 1, 5 done -"
    assert len(mermaid_text("x" * 200)) == 80


def test_local_store_writes_flat_files_and_refuses_traversal(tmp_path):
    store = ReportStore(local_dir=tmp_path / "out")
    where = store.write("inc-1", "plan_repair_plan.md", "# plan\n")
    assert where == str(tmp_path / "out" / "plan_repair_plan.md")
    assert (tmp_path / "out" / "plan_repair_plan.md").read_text() == "# plan\n"
    assert not list((tmp_path / "out").glob(".*partial"))
    for incident_id, name in [("../etc", "x.md"), ("inc-1", "../x.md"), ("inc-1", "a/b.md"), ("", "x.md")]:
        with pytest.raises(ReportStoreError):
            store.write(incident_id, name, "x")
    assert store.key("inc-1", "x.md") == "incidents/inc-1/x.md"


def test_store_needs_exactly_one_destination(tmp_path):
    with pytest.raises(ValueError):
        ReportStore()
    with pytest.raises(ValueError):
        ReportStore(local_dir=tmp_path, bucket="b")
