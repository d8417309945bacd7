"""`triage_report.md`: status, root cause with evidence, ranked hypotheses, what changed, what was looked at."""
from __future__ import annotations

import json
from typing import Any

from ..diagnosis.result import TriageResult
from ..diagnosis.taxonomy import title
from .markdown import bullets, code, table


def _short_td(arn: str | None) -> str:
    return arn.rsplit("/", 1)[-1] if arn else "—"


def _service_section(svc: dict[str, Any]) -> list[str]:
    lines = [
        f"- Desired {svc.get('desiredCount', '?')}, running {svc.get('runningCount', '?')}, "
        f"pending {svc.get('pendingCount', '?')}; task definition `{_short_td(svc.get('taskDefinition'))}`; "
        f"launch type {svc.get('launchType') or 'capacity provider'}",
    ]
    deployments = svc.get("deployments") or []
    if deployments:
        lines += ["", *table(
            ["deployment", "status", "task definition", "rollout", "running/desired", "failed tasks", "created"],
            [(d.get("id", ""), d.get("status", ""), _short_td(d.get("taskDefinition")),
              d.get("rolloutState", "—"), f"{d.get('runningCount', 0)}/{d.get('desiredCount', 0)}",
              d.get("failedTasks", 0), d.get("createdAt", "")) for d in deployments],
        )]
    return lines


def _diff_section(evidence: dict[str, Any]) -> list[str]:
    from ..diagnosis.taskdef_diff import describe_changes, diff_task_definitions

    tds = evidence.get("task_definitions") or {}
    cur, prev = evidence.get("current_task_definition"), evidence.get("previous_task_definition")
    if not (cur in tds and prev in tds):
        return []
    changes = diff_task_definitions(tds[prev], tds[cur])
    head = f"`{_short_td(prev)}` → `{_short_td(cur)}`"
    if not changes:
        return ["## What changed in the task definition", "", f"{head}: no differences in the fields compared.", ""]
    return ["## What changed in the task definition", "", head, "", *bullets(describe_changes(changes)), ""]


def _looked_at(evidence: dict[str, Any], result: TriageResult) -> list[str]:
    tasks = evidence.get("tasks") or {}
    logs = evidence.get("logs") or []
    metrics = evidence.get("metrics") or {}
    alarms = evidence.get("alarms") or []
    lines = [
        f"- Window {evidence['window']['start']} → {evidence['window']['end']}",
        f"- Tasks: {len(tasks.get('running', []))} running, {len(tasks.get('stopped', []))} stopped in the window",
        f"- Task definitions read: {', '.join(_short_td(a) for a in (evidence.get('task_definitions') or {})) or 'none'}",
        f"- Log streams read: {len(logs)}"
        + (" (" + ", ".join(code(f"{lg['group']}:{lg['stream']}", 120) for lg in logs[:6]) + ")" if logs else ""),
    ]
    for name, points in metrics.items():
        if points:
            values = [p[1] for p in points[-6:]]
            lines.append(f"- {name}: last values {', '.join(f'{v:.0f}' for v in values)} (%)")
    if alarms:
        lines.append("- Alarms in ALARM: " + ", ".join(code(a.get("AlarmName", "?"), 120) for a in alarms))
    lines.append(f"- AWS API calls: {result.stats.api_calls}; collection took {result.stats.duration_ms} ms")
    for err in evidence.get("errors") or []:
        lines.append(f"- Could not read {err.get('call')}: {code(err.get('message', ''), 200)}")
    if evidence.get("redacted"):
        lines.append("- Sensitive values (environment values, secret references, tokens) were redacted")
    return lines


def render_triage_report(result: TriageResult, evidence: dict[str, Any]) -> str:
    t, rc = result.target, result.root_cause
    lines = [
        f"# Triage: {t.label}",
        "",
        f"**Status:** {result.status} · **Root cause:** `{rc.category}` — {title(rc.category)} "
        f"· **Confidence:** {rc.confidence:.2f}",
        "",
        "## Root cause",
        "",
        rc.summary,
        "",
    ]
    if rc.evidence:
        lines += ["Evidence (quoted from AWS):", "", *bullets(code(e) for e in rc.evidence), ""]

    others = [f for f in result.findings if f.category != rc.category]
    if others:
        lines += ["## Other hypotheses and findings (ranked)", "",
                  *table(["#", "category", "severity", "confidence", "summary"],
                         [(i, f.category, f.severity, f"{f.confidence:.2f}", f.summary)
                          for i, f in enumerate(others, 1)]), ""]
        for f in others:
            if f.evidence:
                lines += [f"**{f.category}**", "", *bullets(code(e) for e in f.evidence[:5]), ""]

    lines += _diff_section(evidence)

    lines += ["## Suggested actions", ""]
    for i, a in enumerate(result.suggested_actions, 1):
        params = f" `{json.dumps(a.params, sort_keys=True)}`" if a.params else ""
        approval = " (needs approval)" if a.requires_approval and a.action != "none" else ""
        lines.append(f"{i}. **{a.action}**{params}{approval} — {a.rationale}")
    if not result.suggested_actions:
        lines.append("None.")
    lines.append("")

    svc = evidence.get("service")
    if svc:
        lines += ["## Service", "", *_service_section(svc), ""]
    lines += ["## What was looked at", "", *_looked_at(evidence, result), ""]
    return "\n".join(lines)
