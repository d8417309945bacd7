"""The four reports of an incident, rendered from its record (the only place that knows their names)."""
from __future__ import annotations

from typing import Any

from ..diagnosis.result import TriageResult
from ..domain.incident import Incident
from .plan_report import render_plan_report
from .summary_report import render_summary_report
from .triage_report import render_triage_report
from .verify_report import render_verify_report

TRIAGE_REPORT = "triage_report.md"
REPORT_NAMES = (TRIAGE_REPORT, "plan_repair_plan.md", "verify_post_check.md", "report_summary.md")


def render_incident_reports(incident: Incident, evidence: dict[str, Any], locations: dict[str, str]) -> dict[str, str]:
    """Report name -> Markdown; `locations` (name -> where it is stored) are linked from the summary."""
    if incident.triage:
        triage = render_triage_report(TriageResult.model_validate(incident.triage), evidence)
    else:
        why = incident.outcome or "the triage did not run"
        triage = f"# Triage: {incident.target.label}\n\nThe triage did not complete: {why}\n"
    return {TRIAGE_REPORT: triage, "plan_repair_plan.md": render_plan_report(incident),
            "verify_post_check.md": render_verify_report(incident),
            "report_summary.md": render_summary_report(incident, locations)}
