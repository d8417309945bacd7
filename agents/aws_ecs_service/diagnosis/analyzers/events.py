"""Service events: placement failures, health checks, quotas, the scheduler's own complaints.

What a placement failure means also depends on the cluster's instances and the task definition:
`unable to place a task` with no ACTIVE instance is nowhere to place at all, with every agent
disconnected is the agent; a taken port although the task asks for dynamic host ports means the
instances ran out of ports.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..rules import RULES_BY_ID, first_match
from ..view import View
from .base import Hypothesis, Signal, signal_hypotheses, summarise

if TYPE_CHECKING:
    from .analysis import Analysis

_FAILED_DEPLOYMENT_IN_EVENT = re.compile(r"\(deployment ([^)\s]+)\) deployment failed", re.IGNORECASE)


def event_signals(view: View) -> list[Signal]:
    """Every service event in the window that a rule recognises, newest first."""
    out = []
    for e in view.events:
        hit = first_match("service_event", e.body)
        if hit:
            m = _FAILED_DEPLOYMENT_IN_EVENT.search(e.message)
            out.append(Signal(hit[0], e.line(hit[0].pattern), e.at, m.group(1) if m else None))
    return out


def placement_refined(h: Hypothesis, view: View) -> Hypothesis:
    """A placement hypothesis read against the cluster's instances and the task definition (module docstring)."""
    if h.cause == "port-conflict" and _dynamic_host_ports(view.taskdef(view.current_td)):
        return _replaced(h, "F24e", view, "task definition: dynamic host ports only (hostPort 0), so no static port "
                                          "can conflict")
    if h.cause != "placement-insufficient-resources" or view.container_instances is None or not h.signals:
        return h
    if any(s.rule.id != "F24c" for s in h.signals):
        return h
    active = [ci for ci in view.container_instances if str(ci.get("status", "ACTIVE")).upper() == "ACTIVE"]
    if not active:
        return _replaced(h, "F25", view, "container instances: none ACTIVE in the cluster")
    if all(ci.get("agentConnected") is False for ci in active):
        return _replaced(h, "F38", view, f"container instances: {len(active)} ACTIVE, none with its agent connected")
    return h


def _replaced(h: Hypothesis, rule_id: str, view: View, line: str) -> Hypothesis:
    rule = RULES_BY_ID[rule_id]
    count = len(h.signals) or len(h.verdicts)
    return Hypothesis(rule.cause, rule, rule.confidence * 0.95, summarise(rule, view, count=count),
                      h.evidence + [line], rule.severity, h.tier, verdicts=h.verdicts, signals=h.signals)


def _dynamic_host_ports(task_definition: dict[str, Any] | None) -> bool:
    """Bridge-mode port mappings that all leave the host port to ECS (hostPort 0 or absent)."""
    if not task_definition or task_definition.get("networkMode") not in (None, "bridge"):
        return False
    mappings = [m for c in task_definition.get("containerDefinitions") or [] for m in c.get("portMappings") or []]
    return bool(mappings) and all(not m.get("hostPort") for m in mappings)


class EventAnalyzer:
    source = "service events"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        found = [s for s in analysis.event_signals if not s.rule.wrapper and not s.rule.benign]
        return [placement_refined(h, analysis.view) for h in signal_hypotheses(found, analysis.view)]
