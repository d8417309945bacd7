"""`plan_repair_plan.md`: the chosen plan step by step (exact API call, success criteria, undo),
risk, expected duration, what a human must do, and the other options that were considered."""
from __future__ import annotations

import json

from ..domain.incident import Incident
from ..domain.plan import Plan, PlanStep
from .markdown import bullets, code


def duration_text(seconds: int) -> str:
    if seconds <= 0:
        return "—"
    minutes, secs = divmod(int(seconds), 60)
    return f"~{minutes} min {secs} s" if minutes and secs else f"~{minutes} min" if minutes else f"~{secs} s"


def _step(step: PlanStep) -> list[str]:
    lines = [
        f"### Step {step.number}: {step.description}",
        "",
        f"- **API call:** {code(step.api_call)}",
        f"- **Parameters sent:** {code(json.dumps(step.params, sort_keys=True))}",
    ]
    if step.expected_before:
        lines.append(f"- **Applied only if the service still shows:** {code(json.dumps(step.expected_before, sort_keys=True))}"
                     " (otherwise the change is refused and the plan is made again)")
    if step.success_criteria:
        lines += ["- **Success criteria:**", *[f"  - {c}" for c in step.success_criteria]]
    lines.append(f"- **Rollback of this step:** {step.undo or 'nothing to undo'}")
    return [*lines, ""]


def _header(incident: Incident, plan: Plan) -> list[str]:
    t = plan.target
    return [
        f"# Repair plan: {t.label}",
        "",
        f"**Incident:** `{incident.incident_id}` · **Root cause:** `{plan.root_cause}` · "
        f"**Plan:** {plan.title} (`{plan.option}`) · **Plan hash:** `{plan.plan_hash}`",
        "",
        f"**Risk:** {plan.risk} · **Expected duration:** {duration_text(plan.expected_duration_s)} · "
        f"**Changes AWS:** {'yes, after approval' if plan.requires_write else 'no'}",
        "",
        plan.summary,
        "",
    ]


def render_plan_report(incident: Incident) -> str:
    plan = incident.chosen_plan() or (incident.plans[0] if incident.plans else None)
    if plan is None:
        t = incident.target
        return "\n".join([
            f"# Repair plan: {t.label}",
            "",
            f"**Incident:** `{incident.incident_id}`",
            "",
            "No repair plan was made: the triage found nothing the agent can safely change.",
            "",
        ])
    lines = _header(incident, plan)
    if plan.rationale:
        lines += ["## Why this plan", "", plan.rationale, ""]
    lines += ["## Steps", ""]
    if plan.steps:
        for step in plan.steps:
            lines += _step(step)
    else:
        lines += ["No automated step: nothing in this plan is an allowed automated change.", ""]
    if plan.success_criteria:
        lines += ["## Success criteria (checked by the verifier)", "", *bullets(plan.success_criteria), ""]
    lines += ["## Rollback of the rollback", ""]
    undos = [f"Step {s.number}: {s.undo}" for s in plan.steps if s.undo]
    lines += [*bullets(undos), ""] if undos else ["Nothing was changed, so there is nothing to undo.", ""]
    lines += ["## What a human must do", ""]
    lines += [*[f"{i}. {m}" for i, m in enumerate(plan.manual_steps, 1)], ""] if plan.manual_steps else \
        ["Nothing beyond approving (or rejecting) this plan.", ""]
    lines += ["## Approval", ""]
    lines += [f"This plan changes AWS only after someone approves hash `{plan.plan_hash}`; an approval for any "
              "other plan does not count, and the change is refused if the service changed meanwhile.", ""] \
        if plan.requires_write else ["No approval is needed: this plan makes no AWS change.", ""]
    others = [p for p in incident.plans if p.plan_hash != plan.plan_hash]
    if others:
        lines += ["## Other options considered", ""]
        for p in others:
            steps = "; ".join(s.api_call for s in p.steps) or "no AWS change"
            lines.append(f"- **{p.title}** (`{p.option}`, risk {p.risk}, hash `{p.plan_hash[:12]}`): {p.summary} "
                         f"— {code(steps, 300)}")
        lines.append("")
    return "\n".join(lines)
