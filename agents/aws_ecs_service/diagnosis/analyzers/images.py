"""The images the service's revisions run, as ECR knows them (BatchGetImage), and their task definitions.

A missing tag, an image index without the tasks' platform, or a Fargate revision that pulls a
private ECR image without an execution role is found before (or without) a task stopping. When a
pull error's text fits two causes (a refusal that may be a missing image), what ECR says decides.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ...aws.ecr_reads import parse_ecr_image
from ..rules import RULES_BY_ID, first_match
from ..taskdef_diff import short_name
from ..view import View
from .base import Hypothesis, Signal, Tier, signal_hypotheses

if TYPE_CHECKING:
    from .analysis import Analysis

_PULL_CAUSES = ("image-not-found", "image-pull-access-denied")
_ARCHITECTURES = {"X86_64": "amd64", "ARM64": "arm64"}


@dataclass(frozen=True)
class ImageCheck:
    revision: str   # task definition ARN
    image: str      # the container's image URI
    text: str       # "STATUS uri (family:revision)" for the image_check rules

    @property
    def missing(self) -> bool:
        return self.text.startswith(("ImageNotFound", "RepositoryNotFound"))

    @property
    def found(self) -> bool:
        return self.text.startswith("found")

    @property
    def no_execution_role(self) -> bool:
        return self.text.startswith("no execution role")


def image_checks(view: View) -> list[ImageCheck]:
    """One check per (revision, image): ECR's answer, the platform, the execution role."""
    checks = []
    for entry in view.evidence.get("images") or []:
        for revision in entry.get("revisions") or []:
            label = f"{entry.get('image')} ({short_name(revision)})"
            checks.append(ImageCheck(revision, entry.get("image", ""), f"{entry.get('status', '?')} {label}"))
            wanted = _platform(view.taskdef(revision), view)
            platforms = entry.get("platforms")
            if wanted and platforms is not None and wanted not in platforms:
                checks.append(ImageCheck(revision, entry.get("image", ""),
                                         f"platform mismatch {label}: the image index has {', '.join(platforms) or 'no'}"
                                         f" platforms, the tasks run {wanted}"))
    for arn, td in sorted(view.task_definitions.items()):
        if _on_fargate(td, view) and not td.get("executionRoleArn"):
            for container in td.get("containerDefinitions") or []:
                if parse_ecr_image(container.get("image")):
                    checks.append(ImageCheck(arn, container["image"], f"no execution role {container['image']} "
                                             f"({short_name(arn)}): Fargate pulls private ECR images with it"))
    return checks


def _on_fargate(td: dict[str, Any], view: View) -> bool:
    return "FARGATE" in (td.get("requiresCompatibilities") or []) or view.service.get("launchType") == "FARGATE"


def _platform(td: dict[str, Any] | None, view: View) -> str | None:
    """"linux/amd64" or "linux/arm64" when the task's CPU architecture is known (Fargate defaults to X86_64)."""
    if not td:
        return None
    runtime = td.get("runtimePlatform") or {}
    arch = runtime.get("cpuArchitecture") or ("X86_64" if _on_fargate(td, view) else None)
    family = str(runtime.get("operatingSystemFamily") or "LINUX")
    return f"linux/{_ARCHITECTURES[arch]}" if arch in _ARCHITECTURES and family == "LINUX" else None


def refine_pull_verdicts(analysis: Analysis, verdicts: list[Any]) -> None:
    """A pull failure of an image ECR does not have is image-not-found; an ambiguous refusal of an image ECR has
    is a permission problem."""
    for v in verdicts:
        if v.cause not in _PULL_CAUSES:
            continue
        mine = [c for c in analysis.image_checks if c.revision == v.revision]
        missing = next((c for c in mine if c.missing), None)
        no_role = next((c for c in mine if c.no_execution_role), None)
        found = next((c for c in mine if c.found), None)
        if missing:
            v.refine(RULES_BY_ID["I01"], f"ecr: {missing.text}")
        elif v.rule and v.rule.ambiguous and no_role:
            v.refine(RULES_BY_ID["I03"], f"ecr: {no_role.text}")
        elif v.rule and v.rule.ambiguous and found:  # and none missing: ECR has every image it was asked for
            v.refine(RULES_BY_ID["F08"], f"ecr: {found.text}: the image exists, so the registry refused the pull")


class ImageAnalyzer:
    source = "container images"

    def propose(self, analysis: Analysis) -> list[Hypothesis]:
        view = analysis.view
        in_play = _revisions_in_play(analysis)
        signals: dict[bool, list[Signal]] = {True: [], False: []}
        for check in analysis.image_checks:
            hit = first_match("image_check", check.text)
            if hit:  # a missing execution role only shows once a pull fails (refine_pull_verdicts)
                wanted = check.revision in in_play and not check.no_execution_role
                signals[wanted].append(Signal(hit[0], f"ecr: {check.text}", revision=check.revision))
        found = signal_hypotheses(signals[True], view, unit="images")
        for h in signal_hypotheses(signals[False], view, unit="images"):
            h.tier = Tier.ALSO  # a revision that runs fine: a risk for its next task, not today's cause
            found.append(h)
        return found


def _revisions_in_play(analysis: Analysis) -> set[str]:
    """Revisions being deployed or failing, and the current one while tasks are missing."""
    view = analysis.view
    found = set(analysis.deployments.revisions)
    found |= {d["taskDefinition"] for d in view.deployments
              if d.get("taskDefinition") and d.get("rolloutState") not in (None, "COMPLETED")}
    if view.running < view.desired and view.current_td:
        found.add(view.current_td)
    return found
