"""`ecs-agent demo`: the whole incident loop on the built-in sandbox, no AWS account, no Bedrock.

Sandbox -> triage -> plan -> approval prompt -> remediation through the policy guard ->
verification -> the four reports: the incident lifecycle (operations/lifecycle.py) with local
stores, driven stage by stage with a line of progress each. The agent talks to the sandbox through
AWS_ENDPOINT_URL, the same code path as real AWS. Writes are allowed here because the sandbox is
not AWS.
"""
from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..domain.incident import Trigger
from ..domain.plan import Approval, Plan

STAGES = 6
SANDBOX_VERIFY_TIMEOUT_S = 30  # the sandbox's scheduler settles in ~1.5 s
SANDBOX_POLL_S = 0.5


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class _Story:
    """Progress lines for the person watching."""

    def __init__(self, print_fn: Callable[[str], None]):
        self.print = print_fn

    def stage(self, number: int, name: str, text: str) -> None:
        self.print(f"[{number}/{STAGES}] {name:<10} {text}")

    def detail(self, text: str) -> None:
        self.print(f"{'':17}{text}")


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
    from ..sandbox import Sandbox

    print_fn("ecs-agent demo: a broken ECS service on a local sandbox (no AWS account, no Bedrock needed)")
    sandbox = sandbox or Sandbox()
    endpoint = sandbox.start()
    try:
        with sandbox.aws_environment():
            return _play(sandbox, endpoint, Path(out_dir), assume_yes, stdin_is_tty, print_fn, input_fn)
    finally:
        sandbox.stop()


def _lifecycle(out_dir: Path) -> Any:
    from ..aws.audit_log import LocalAuditLog
    from ..aws.session import SessionPool
    from ..domain.write_policy import WriteScope
    from ..operations.approvals import LocalApprovalStore
    from ..operations.lifecycle import Lifecycle
    from ..operations.local_incidents import LocalIncidentStore
    from ..reports.store import ReportStore

    store = ReportStore(local_dir=out_dir)
    return Lifecycle(incidents=LocalIncidentStore(), approvals=LocalApprovalStore(), audit=LocalAuditLog(),
                     sessions=SessionPool(), scope=WriteScope.of(allow_write=True),  # allowed: the sandbox is not AWS
                     reports=lambda _incident: store)


def _play(sandbox: Any, endpoint: str, out_dir: Path, assume_yes: bool, stdin_is_tty: bool,
          print_fn: Callable[[str], None], input_fn: Callable[[str], str]) -> int:
    life = _lifecycle(out_dir)
    story = _Story(print_fn)
    target = sandbox.target
    story.stage(1, "sandbox", f"local AWS at {endpoint}: cluster {target.cluster}, service {target.service}")
    opened = dt.datetime.now(dt.UTC)
    incident, _ = life.open(target, Trigger(kind="manual", summary=f"ecs-agent demo on the sandbox at {endpoint}",
                                            event_id=f"demo-{opened:%Y%m%dT%H%M%S%f}", at=opened.isoformat()),
                            prefix="demo")

    result, _evidence = life.triage(incident, since=dt.timedelta(hours=2))
    rc = result.root_cause
    story.stage(2, "triage", f"{target.cluster}/{target.service} is {result.status}: {rc.category} "
                             f"(confidence {rc.confidence:.2f})")
    story.detail(rc.summary)
    for line in rc.evidence[:2]:
        story.detail(f"· {line[:160]}")

    plan = life.plan(incident)
    story.stage(3, "plan", f"{plan.title} (risk {plan.risk}, plan hash {plan.plan_hash})")
    for step in plan.steps:
        story.detail(f"{step.number}. {step.api_call}")
    for manual in plan.manual_steps[:2]:
        story.detail(f"a person must: {manual}")

    if not plan.requires_write:
        story.stage(4, "approval", "nothing to approve: the plan makes no AWS change")
    else:
        story.stage(4, "approval", "the plan changes AWS, so it needs a person's approval")
        life.approval_requested(incident, plan, "at the terminal")
        approval = life.decide(incident, _ask(plan, assume_yes, stdin_is_tty, input_fn, story))
        if approval.decision != "approved":
            story.detail("rejected: no AWS call that changes anything will be made")
        else:
            _repair(life, incident, plan, story)
    locations = life.close(incident)
    story.print(f"Outcome: {incident.status}. Reports:")
    for where in locations.values():
        story.print(f"  {where}")
    return 1 if incident.status == "failed" else 0


def _repair(life: Any, incident: Any, plan: Plan, story: _Story) -> None:
    from ..domain.plan import applied

    story.stage(5, "remediate", f"applying {len(plan.steps)} step(s) through the policy guard")
    changed_at = _now()
    if not applied(life.remediate(incident, actor="ecs-agent demo", progress=story.detail)):
        return
    target = incident.target
    story.stage(6, "verify", f"polling {target.cluster}/{target.service} until it is steady")
    evidence = life.incidents.load_evidence(incident.incident_id)
    alarms = [a["AlarmName"] for a in evidence.get("alarms") or [] if a.get("StateValue") == "ALARM"]
    verification = life.verify(incident, changed_at, timeout_s=SANDBOX_VERIFY_TIMEOUT_S, poll_s=SANDBOX_POLL_S,
                               progress=story.detail, trigger_alarm=alarms[0] if alarms else None)
    passed = sum(c.ok for c in verification.checks)
    story.detail(f"{'PASSED' if verification.ok else 'FAILED'}: {passed}/{len(verification.checks)} checks")
