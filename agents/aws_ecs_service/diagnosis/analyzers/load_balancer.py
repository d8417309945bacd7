"""Load balancer target health (ELBv2), and the target group's health check against the container.

A target that is unhealthy with a health-check reason code says the load balancer rejects the tasks
even before ECS stops one. The target group's own settings (the port it checks, the path and the
success codes) are evidence for the person who fixes it: ECS registers targets with their own
port, so a target group's default port differing from the container port is normal (the health
check's explicit port is what must match).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..rules import first_match
from ..signals import clip
from ..taskdef_diff import short_name
from ..view import View
from .base import Hypothesis, Signal, Tier, signal_hypotheses

if TYPE_CHECKING:
    from .analysis import Analysis


def target_health_signals(view: View) -> list[Signal]:
    found = view.evidence.get("load_balancers") or {}
    groups = {g.get("TargetGroupArn"): g for g in found.get("target_groups") or []}
    out = []
    for arn, targets in sorted(_target_health(found).items()):
        name = (groups.get(arn) or {}).get("TargetGroupName") or short_name(arn)
        for t in targets:
            # "STATE REASON description": the rules match a state that is not healthy with its reason code
            health = t.get("TargetHealth") or {}
            text = " ".join(part for part in (health.get("State"), health.get("Reason"), health.get("Description"))
                            if part)
            hit = first_match("target_health", text)
            if hit:
                target = t.get("Target") or {}
                out.append(Signal(hit[0], f"target group {name}: target {target.get('Id', '?')}:"
                                          f"{target.get('Port', '?')} {clip(text, 200)}"))
    return out


def _target_health(found: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    return found.get("target_health") or {}


def some_targets_healthy(view: View) -> bool:
    return any((t.get("TargetHealth") or {}).get("State") == "healthy"
               for targets in _target_health(view.evidence.get("load_balancers") or {}).values() for t in targets)


def health_check_lines(view: View) -> list[str]:
    """What each target group checks, and where it checks a port the container does not listen on."""
    found = view.evidence.get("load_balancers") or {}
    wanted = {lb.get("targetGroupArn"): lb for lb in view.service.get("loadBalancers") or []}
    lines = []
    for group in found.get("target_groups") or []:
        lb = wanted.get(group.get("TargetGroupArn")) or {}
        check = (f"target group {group.get('TargetGroupName', '?')}: health check {group.get('HealthCheckProtocol', '?')} "
                 f"port {group.get('HealthCheckPort', '?')} path {group.get('HealthCheckPath') or '-'}, success codes "
                 f"{_matcher(group)}")
        port = str(group.get("HealthCheckPort") or "traffic-port")
        container_port = lb.get("containerPort")
        if port != "traffic-port" and container_port and port != str(container_port) and _awsvpc(view):
            check += f"; the container {lb.get('containerName', '?')} listens on {container_port}, not {port}"
        lines.append(check)
    return lines


def _matcher(group: dict[str, Any]) -> str:
    matcher = group.get("Matcher") or {}
    return matcher.get("HttpCode") or matcher.get("GrpcCode") or "?"


def _awsvpc(view: View) -> bool:
    """With awsvpc the target is the task's own IP and port, so an explicit check port must be the container's."""
    td = view.taskdef(view.current_td) or {}
    return td.get("networkMode") == "awsvpc" or bool((view.service.get("networkConfiguration") or {})
                                                      .get("awsvpcConfiguration"))


class LoadBalancerAnalyzer:
    source = "load balancer target health"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        view = analysis.view
        found = signal_hypotheses(target_health_signals(view), view, unit="targets")
        # a few unhealthy targets beside healthy ones of a full, steady service are a warning, not the incident
        steady = view.running >= view.desired and not analysis.deployments.active and some_targets_healthy(view)
        for h in found:
            h.evidence += health_check_lines(view)[:2]
            if steady:
                h.tier = Tier.ALSO
        return found
