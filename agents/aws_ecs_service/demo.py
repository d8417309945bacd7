"""`ecs-agent demo`: the whole incident loop on the built-in sandbox, no AWS account, no Bedrock.

Sandbox -> triage -> plan -> approval prompt -> remediation through the policy guard ->
verification -> the four reports. The agent talks to the sandbox through AWS_ENDPOINT_URL,
the same code path as real AWS. Writes are allowed here because the sandbox is not AWS.
"""
from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .operations.plan_model import Approval, Incident, Plan, TimelineEvent

STAGES = 6
SANDBOX_VERIFY_TIMEOUT_S = 30  # the sandbox's scheduler settles in ~1.5 s
SANDBOX_POLL_S = 0.5
REPORT_NAMES = ("triage_report.md", "plan_repair_plan.md", "verify_post_check.md", "report_summary.md")


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _Story:
    """Progress lines for the person watching, and the incident's timeline, from the same calls."""

    def __init__(self, incident: Incident, print_fn: Callable[[str], None]):
        self.incident, self.print = incident, print_fn

    def stage(self, number: int, name: str, text: str) -> None:
        self.print(f"[{number}/{STAGES}] {name:<10} {text}")

    def detail(self, text: str) -> None:
        self.print(f"{'':17}{text}")

    def event(self, kind: str, text: str) -> None:
        self.incident.timeline.append(TimelineEvent(at=_now(), kind=kind, text=text))


def _ask(plan: Plan, assume_yes: bool, stdin_is_tty: bool, input_fn: Callable[[str], str],
         story: _Story) -> Approval:
    if assume_yes or not stdin_is_tty:
        why = "--yes" if assume_yes else "no terminal on stdin"
        story.detail(f"approved automatically inside the sandbox ({why}); on real AWS a person approves")
        return Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id, decision="approved",
                        decided_by=f"sandbox auto-approval ({why})", decided_at=_now(), channel="sandbox")
    try:
        answer = input_fn(f"{'':17}Approve plan {plan.plan_hash}? [y/N] ")
    except EOFError:
        answer = ""
    decision = "approved" if answer.strip().lower() in ("y", "yes") else "rejected"
    return Approval(plan_hash=plan.plan_hash, incident_id=plan.incident_id, decision=decision,
                    decided_by=getpass.getuser(), decided_at=_now(), channel="cli",
                    comment=f"answered {answer.strip()!r} at the prompt")


def run_demo(out_dir: str | Path, assume_yes: bool, stdin_is_tty: bool, print_fn: Callable[[str], None] = print,
             input_fn: Callable[[str], str] = input, sandbox: Any = None) -> int:
    """Play the demo incident end to end; 0 when it ran (resolved or rejected), 1 when the repair failed.

    `sandbox`: a Sandbox not yet started (tests pass one to look at it afterwards); it is stopped at the end.
    """
    from .sandbox import Sandbox

    print_fn("ecs-agent demo: a broken ECS service on a local sandbox (no AWS account, no Bedrock needed)")
    sandbox = sandbox or Sandbox()
    endpoint = sandbox.start()
    try:
        with sandbox.aws_environment():
            return _play(sandbox, endpoint, Path(out_dir), assume_yes, stdin_is_tty, print_fn, input_fn)
    finally:
        sandbox.stop()


def _play(sandbox: Any, endpoint: str, out_dir: Path, assume_yes: bool, stdin_is_tty: bool,
          print_fn: Callable[[str], None], input_fn: Callable[[str], str]) -> int:
    from .aws.audit_log import LocalAuditLog
    from .aws.policy_guard import PolicyGuard
    from .aws.session import AwsContext
    from .diagnosis.engine import run_triage
    from .operations.approvals import LocalApprovalStore
    from .operations.planner import build_plans

    ctx = AwsContext(region=sandbox.region)
    cluster, service = sandbox.cluster, sandbox.service
    opened = dt.datetime.now(dt.UTC)
    incident = Incident(incident_id=f"demo-{opened:%Y%m%dT%H%M%SZ}", target={
        "region": ctx.region, "cluster": cluster, "service": service}, trigger="ecs-agent demo", opened_at=opened.isoformat())
    story = _Story(incident, print_fn)
    story.stage(1, "sandbox", f"local AWS at {endpoint}: cluster {cluster}, service {service}")
    story.event("triggered", f"ecs-agent demo started on {cluster}/{service} (sandbox {endpoint})")

    result, evidence = run_triage(ctx, cluster, service, since=dt.timedelta(hours=2))
    incident.triage = result.to_json_dict()
    rc = result.root_cause
    story.stage(2, "triage", f"{cluster}/{service} is {result.status}: {rc.category} (confidence {rc.confidence:.2f})")
    story.detail(rc.summary)
    for line in rc.evidence[:2]:
        story.detail(f"· {line[:160]}")
    story.event("triage", f"{result.status}; root cause {rc.category} ({rc.confidence:.2f}), "
                          f"{result.stats.api_calls} API calls in {result.stats.duration_ms} ms")

    incident.plans = build_plans(result, evidence, incident.incident_id)
    plan = incident.plans[0]
    incident.chosen_plan_hash = plan.plan_hash
    story.stage(3, "plan", f"{plan.title} (risk {plan.risk}, plan hash {plan.plan_hash})")
    for step in plan.steps:
        story.detail(f"{step.number}. {step.api_call}")
    for manual in plan.manual_steps[:2]:
        story.detail(f"a person must: {manual}")
    story.event("plan", f"{plan.title}; hash {plan.plan_hash}")

    approvals, audit = LocalApprovalStore(), LocalAuditLog()
    if not plan.requires_write:
        incident.status = "no-action"
        story.stage(4, "approval", "nothing to approve: the plan makes no AWS change")
    else:
        story.stage(4, "approval", "the plan changes AWS, so it needs a person's approval")
        approval = approvals.record(_ask(plan, assume_yes, stdin_is_tty, input_fn, story))
        incident.approvals.append(approval)
        story.event("approval", f"{approval.decision} by {approval.decided_by} ({approval.channel})")
        if approval.decision != "approved":
            incident.status = "rejected"
            story.detail("rejected: no AWS call that changes anything will be made")
        else:
            _repair(ctx, incident, plan, result, evidence, PolicyGuard(
                ctx, allow_write=True, approvals=approvals, audit=audit), story)  # allowed: the sandbox is not AWS
    return _report(incident, result, evidence, out_dir, story)


def _repair(ctx: Any, incident: Incident, plan: Plan, result: Any, evidence: dict[str, Any], guard: Any,
            story: _Story) -> None:
    from .aws.policy_guard import SKIPPED
    from .operations.remediator import remediate
    from .operations.verifier import verify

    incident.status = "remediating"
    story.stage(5, "remediate", f"applying {len(plan.steps)} step(s) through the policy guard")
    changed_at = dt.datetime.now(dt.UTC)
    entries = remediate(plan, guard, actor="ecs-agent demo", progress=story.detail)
    incident.audit = guard.audit.list(incident.incident_id)
    for entry in entries:
        story.event("write", f"step {entry.step} {entry.operation}: {entry.result}"
                             + ("" if entry.allowed else f" ({entry.reason})"))
    if not entries or not all(e.allowed and e.result in ("ok", SKIPPED) for e in entries):
        incident.status = "failed"
        return
    story.stage(6, "verify", f"polling {incident.target['cluster']}/{incident.target['service']} until it is steady")
    alarms = [a["AlarmName"] for a in evidence.get("alarms") or [] if a.get("StateValue") == "ALARM"]
    verification = verify(ctx, plan, result, changed_at, timeout_s=SANDBOX_VERIFY_TIMEOUT_S, poll_s=SANDBOX_POLL_S,
                          progress=story.detail, trigger_alarm=alarms[0] if alarms else None, evidence=evidence)
    incident.verification = verification
    passed = sum(c.ok for c in verification.checks)
    story.detail(f"{'PASSED' if verification.ok else 'FAILED'}: {passed}/{len(verification.checks)} checks")
    story.event("verify", f"{'passed' if verification.ok else 'failed'}: {passed}/{len(verification.checks)} checks "
                          f"after {verification.polls} polls")
    incident.status = "resolved" if verification.ok else "failed"


def _report(incident: Incident, result: Any, evidence: dict[str, Any], out_dir: Path, story: _Story) -> int:
    from .reports.plan_report import render_plan_report
    from .reports.store import ReportStore
    from .reports.summary_report import render_summary_report
    from .reports.triage_report import render_triage_report
    from .reports.verify_report import render_verify_report

    store = ReportStore(local_dir=out_dir)
    locations = {name: str(out_dir / name) for name in REPORT_NAMES}
    story.event("report", f"reports written to {out_dir}")
    files = {
        "triage_report.md": render_triage_report(result, evidence),
        "plan_repair_plan.md": render_plan_report(incident),
        "verify_post_check.md": render_verify_report(incident),
        "report_summary.md": render_summary_report(incident, locations),
    }
    written = store.write_all(incident.incident_id, files)
    story.print(f"Outcome: {incident.status}. Reports:")
    for where in written:
        story.print(f"  {where}")
    return 1 if incident.status == "failed" else 0
