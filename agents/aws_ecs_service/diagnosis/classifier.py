"""Root-cause classification of an evidence document (diagnosis/evidence.py), no AWS, no model.

    result = classify(evidence)   # TriageResult; stats are left at zero for the engine to fill

The evidence is read once (view.py); one analyzer per evidence source proposes causes (analyzers/);
the decision picks the root cause (decision.py); findings.py and actions.py say what was found and
what to do. What each cause means and how it is fixed lives in its record (taxonomy.json).
"""
from __future__ import annotations

from typing import Any

from .actions import suggested_actions
from .analyzers.analysis import Analysis
from .analyzers.tasks import TaskVerdict, classify_task
from .decision import decide
from .evidence import target_of
from .findings import findings, status
from .result import RootCause, TriageResult, Window
from .view import read_view

__all__ = ["TaskVerdict", "classify", "classify_task"]


def classify(evidence: dict[str, Any]) -> TriageResult:
    """Name the root cause of the evidence document (see the module docstring)."""
    analysis = Analysis(read_view(evidence))
    decision = decide(analysis)
    found = findings(analysis, decision)
    root = found[0]
    window = evidence.get("window") or {}
    return TriageResult(
        target=target_of(evidence),
        window=Window(start=str(window.get("start") or ""), end=str(window.get("end") or "")),
        status=status(analysis.view, decision.root.cause),
        root_cause=RootCause(category=root.category, confidence=root.confidence, summary=root.summary,
                             evidence=root.evidence),
        findings=found,
        suggested_actions=suggested_actions(analysis, decision),
    )
