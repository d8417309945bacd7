"""How long to wait for a change to hold, derived from the service and capped by the deployment's ceiling.

A rollback behind a load balancer has settled when the new tasks have started, passed their target groups' health
checks (healthy threshold x interval, after the service's health-check grace period) and the old tasks have drained
(the target groups' deregistration delay, 300 s unless changed). A fixed ten minutes is too short for a long drain:
the verification would report a good rollback as failed. The window is never shorter than the configured base (the
workflow's wait between polls times its polls: ten minutes by default), and never longer than the ceiling the stack
was deployed with (VERIFY_CEILING_S).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws import elbv2_reads
from ..aws.session import AwsContext

START_MARGIN_S = 180  # new tasks are placed, pull their image and start
DEFAULT_DEREGISTRATION_DELAY_S = 300  # ELBv2's default, when the attribute cannot be read


@dataclass(frozen=True)
class Window:
    seconds: int
    why: str


def verification_window(ctx: AwsContext, evidence: dict[str, Any], base_s: int, ceiling_s: int) -> Window:
    """The window for the service the evidence describes (its target groups' settings read from the evidence, their
    deregistration delay from ELBv2)."""
    service = evidence.get("service") or {}
    groups = (evidence.get("load_balancers") or {}).get("target_groups") or []
    if not groups:
        return _capped(base_s, "no load balancer: the configured window", ceiling_s)
    grace = int(service.get("healthCheckGracePeriodSeconds") or 0)
    healthy = max(int(g.get("HealthCheckIntervalSeconds") or 30) * int(g.get("HealthyThresholdCount") or 5)
                  for g in groups)
    drain = max(_deregistration_delay(ctx, g["TargetGroupArn"]) for g in groups if g.get("TargetGroupArn"))
    needed = START_MARGIN_S + grace + healthy + drain
    why = (f"{START_MARGIN_S} s to start + {grace} s health-check grace + {healthy} s to pass the target group's "
           f"health checks + {drain} s deregistration delay")
    return _capped(max(base_s, needed), why, ceiling_s)


def _deregistration_delay(ctx: AwsContext, arn: str) -> int:
    try:
        found = elbv2_reads.deregistration_delay_s(ctx.client("elbv2"), arn)
    except (ClientError, BotoCoreError):
        found = None
    return DEFAULT_DEREGISTRATION_DELAY_S if found is None else found


def _capped(seconds: int, why: str, ceiling_s: int) -> Window:
    if seconds > ceiling_s:
        return Window(ceiling_s, f"{why}: {seconds} s, capped at the {ceiling_s} s ceiling")
    return Window(seconds, f"{why}: {seconds} s")
