"""The images analyzer at its boundaries: what each image check says, which platform a revision's tasks run, how
ECR's answer settles an ambiguous pull failure, and when an image problem is today's cause or only a risk.

Through the module's public functions (`image_checks`, the verdicts `Analysis` refines with `refine_pull_verdicts`,
`ImageAnalyzer.propose`) over views read from evidence documents built with tests/unit/evidence_builder.py.
"""
from __future__ import annotations

from typing import Any

import pytest

from agents.aws_ecs_service.diagnosis.analyzers.analysis import Analysis
from agents.aws_ecs_service.diagnosis.analyzers.base import Tier
from agents.aws_ecs_service.diagnosis.analyzers.images import ImageAnalyzer, image_checks
from agents.aws_ecs_service.diagnosis.view import read_view
from tests.unit.evidence_builder import ACCOUNT, REGION, EvidenceBuilder

TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/api:{}"
ECR = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/api"
NOT_FOUND = ("CannotPullContainerError: pull image manifest has been retried 5 time(s): failed to resolve ref "
             f"{ECR}:v9: not found")                                                # F07b, not ambiguous
AMBIGUOUS_MISSING = f"CannotPullContainerError: Error response from daemon: repository {ECR} does not exist"  # F07c
AMBIGUOUS_REFUSED = ("CannotPullContainerError: failed to copy: httpReadSeeker: failed open: unexpected status code "
                     f"https://{ECR}/blobs/sha256:ab: 400 Bad Request")            # F08c
DENIED = "CannotPullContainerError: pull access denied for api"                      # F08b, not ambiguous


def steady(desired: int = 2, running: int | None = None, launch_type: str = "FARGATE") -> EvidenceBuilder:
    b = EvidenceBuilder(desired=desired, running=running, launch_type=launch_type)
    b.deployment(12)
    return b


def document(b: EvidenceBuilder, images: list[dict[str, Any]], **taskdef_fields: dict[str, Any]) -> dict[str, Any]:
    """The builder's evidence with these ECR answers; taskdef_fields={"td12": {...}} updates api:12's definition."""
    doc = b.build()
    doc["images"] = images
    for key, fields in taskdef_fields.items():
        doc["task_definitions"][TD.format(key.removeprefix("td"))].update(fields)
    return doc


def entry(status: str = "found", revisions: tuple[int, ...] = (12,), platforms: list[str] | None = None,
          image: str = f"{ECR}:v1.12") -> dict[str, Any]:
    return {"image": image, "revisions": [TD.format(r) for r in revisions], "status": status, "platforms": platforms}


def checks_of(doc: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c.revision, c.image, c.text) for c in image_checks(read_view(doc))]


# ---- image_checks -------------------------------------------------------------------------------------------

def test_each_revision_of_an_image_gets_ecrs_answer_and_a_platform_mismatch_when_the_index_lacks_its_platform():
    b = steady()
    b.taskdef(13)
    doc = document(b, [entry(platforms=["linux/arm64", "linux/arm/v7"], revisions=(12, 13)),
                       entry("ImageNotFound", image=f"{ECR}:v9"),
                       {"revisions": [TD.format(12)], "platforms": ["linux/arm64"]},
                       entry(platforms=[])],
                   td13={"runtimePlatform": {"cpuArchitecture": "ARM64"}})
    assert checks_of(doc) == [
        (TD.format(12), f"{ECR}:v1.12", f"found {ECR}:v1.12 (api:12)"),
        (TD.format(12), f"{ECR}:v1.12", f"platform mismatch {ECR}:v1.12 (api:12): the image index has linux/arm64, "
                                        "linux/arm/v7 platforms, the tasks run linux/amd64"),
        (TD.format(13), f"{ECR}:v1.12", f"found {ECR}:v1.12 (api:13)"),
        (TD.format(12), f"{ECR}:v9", f"ImageNotFound {ECR}:v9 (api:12)"),
        (TD.format(12), "", "? None (api:12)"),
        (TD.format(12), "", "platform mismatch None (api:12): the image index has linux/arm64 platforms, the tasks run "
                            "linux/amd64"),
        (TD.format(12), f"{ECR}:v1.12", f"found {ECR}:v1.12 (api:12)"),
        (TD.format(12), f"{ECR}:v1.12", f"platform mismatch {ECR}:v1.12 (api:12): the image index has no platforms, "
                                        "the tasks run linux/amd64"),
    ]


def test_no_images_or_revisions_read_are_no_checks():
    for images in (None, [], [{"image": f"{ECR}:v1", "status": "found"}], [entry(revisions=())]):
        assert checks_of(document(steady(), images)) == []


@pytest.mark.parametrize("launch_type, fields, platform", [
    ("FARGATE", {}, "linux/amd64"),                                       # Fargate's default architecture
    ("EC2", {"requiresCompatibilities": ["FARGATE"]}, "linux/amd64"),
    ("EC2", {"requiresCompatibilities": ["EC2"]}, None),                  # EC2 without a declared architecture
    ("EC2", {}, None),
    ("EC2", {"runtimePlatform": {"cpuArchitecture": "X86_64"}}, "linux/amd64"),
    ("EC2", {"runtimePlatform": {"cpuArchitecture": "ARM64"}}, "linux/arm64"),
    ("FARGATE", {"runtimePlatform": {"cpuArchitecture": "ARM64"}}, "linux/arm64"),
    ("FARGATE", {"runtimePlatform": {"cpuArchitecture": "ARM64", "operatingSystemFamily": "LINUX"}}, "linux/arm64"),
    ("FARGATE", {"runtimePlatform": {"cpuArchitecture": None, "operatingSystemFamily": None}}, "linux/amd64"),
    ("FARGATE", {"runtimePlatform": {"operatingSystemFamily": "WINDOWS_SERVER_2022_CORE"}}, None),
    ("FARGATE", {"runtimePlatform": {"cpuArchitecture": "RISCV"}}, None),
    ("FARGATE", {"runtimePlatform": None}, "linux/amd64"),
])
def test_the_platform_a_revisions_tasks_run_is_read_from_its_runtime_platform(launch_type, fields, platform):
    doc = document(steady(launch_type=launch_type), [entry(platforms=["linux/s390x"])], td12=fields)
    mismatches = [text for _, _, text in checks_of(doc) if text.startswith("platform mismatch")]
    assert mismatches == ([f"platform mismatch {ECR}:v1.12 (api:12): the image index has linux/s390x platforms, "
                           f"the tasks run {platform}"] if platform else [])


@pytest.mark.parametrize("platforms", [["linux/amd64"], ["linux/arm64", "linux/amd64"], None])
def test_an_image_index_with_the_tasks_platform_or_a_single_manifest_is_no_mismatch(platforms):
    assert checks_of(document(steady(), [entry(platforms=platforms)])) == [
        (TD.format(12), f"{ECR}:v1.12", f"found {ECR}:v1.12 (api:12)")]


def test_an_image_of_a_revision_not_in_the_evidence_has_no_platform_to_mismatch():
    assert checks_of(document(steady(), [entry(platforms=["linux/s390x"], revisions=(40,))])) == [
        (TD.format(40), f"{ECR}:v1.12", f"found {ECR}:v1.12 (api:40)")]


def test_a_fargate_revision_without_an_execution_role_is_a_check_for_each_private_ecr_image():
    b = steady()
    b.taskdef(13)
    doc = document(b, [], td12={"executionRoleArn": None}, td13={"executionRoleArn": ""})
    doc["task_definitions"][TD.format(12)]["containerDefinitions"] += [
        {"name": "proxy", "image": "public.ecr.aws/nginx/nginx:1.27"}, {"name": "agent", "image": f"{ECR}-agent:3"}]
    assert checks_of(doc) == [
        (TD.format(12), f"{ECR}:v1.12",
         f"no execution role {ECR}:v1.12 (api:12): Fargate pulls private ECR images with it"),
        (TD.format(12), f"{ECR}-agent:3",
         f"no execution role {ECR}-agent:3 (api:12): Fargate pulls private ECR images with it"),
        (TD.format(13), f"{ECR}:v1.13",
         f"no execution role {ECR}:v1.13 (api:13): Fargate pulls private ECR images with it"),
    ]


@pytest.mark.parametrize("launch_type, fields, checked", [
    ("FARGATE", {"executionRoleArn": None}, True),
    ("EC2", {"executionRoleArn": None, "requiresCompatibilities": ["EC2", "FARGATE"]}, True),
    ("EC2", {"executionRoleArn": None}, False),        # the instance role pulls on EC2
    ("EC2", {"executionRoleArn": None, "requiresCompatibilities": None}, False),
    ("FARGATE", {}, False),                            # it has its execution role
    ("FARGATE", {"executionRoleArn": None, "containerDefinitions": None}, False),
])
def test_a_missing_execution_role_only_matters_on_fargate(launch_type, fields, checked):
    doc = document(steady(launch_type=launch_type), [], td12=fields)
    assert [text.split(" ")[:3] for _, _, text in checks_of(doc)] == ([["no", "execution", "role"]] if checked else [])


# ---- refine_pull_verdicts: ECR settles an ambiguous pull failure ---------------------------------------------

def pull_verdicts(reason: str, images: list[dict[str, Any]], revision: int = 12, **taskdef_fields: dict[str, Any]):
    b = steady(running=1)
    b.stopped(revision, "TaskFailedToStart", reason, exit_code=None)
    return Analysis(read_view(document(b, images, **taskdef_fields))).verdicts


@pytest.mark.parametrize("reason, images, fields, refined", [
    # ECR does not have the image: image-not-found, whatever the pull error said
    (AMBIGUOUS_MISSING, [entry("ImageNotFound", image=f"{ECR}:v9")], {},
     ("I01", f"ecr: ImageNotFound {ECR}:v9 (api:12)")),
    (AMBIGUOUS_REFUSED, [entry(), entry("RepositoryNotFound", image=f"{ECR}2:v1")], {},
     ("I01", f"ecr: RepositoryNotFound {ECR}2:v1 (api:12)")),
    (DENIED, [entry("ImageNotFound")], {}, ("I01", f"ecr: ImageNotFound {ECR}:v1.12 (api:12)")),
    (NOT_FOUND, [entry("ImageNotFound")], {}, ("I01", f"ecr: ImageNotFound {ECR}:v1.12 (api:12)")),
    # an ambiguous refusal of a Fargate revision without an execution role: that role is missing
    (AMBIGUOUS_MISSING, [entry()], {"executionRoleArn": None},
     ("I03", f"ecr: no execution role {ECR}:v1.12 (api:12): Fargate pulls private ECR images with it")),
    (AMBIGUOUS_REFUSED, [], {"executionRoleArn": None},
     ("I03", f"ecr: no execution role {ECR}:v1.12 (api:12): Fargate pulls private ECR images with it")),
    # an ambiguous refusal of images ECR has: the registry refused the pull
    (AMBIGUOUS_MISSING, [entry(), entry(image=f"{ECR}:v2")], {},
     ("F08", f"ecr: found {ECR}:v1.12 (api:12): the image exists, so the registry refused the pull")),
    (AMBIGUOUS_REFUSED, [entry(platforms=["linux/arm64"])], {},
     ("F08", f"ecr: found {ECR}:v1.12 (api:12): the image exists, so the registry refused the pull")),
    # nothing to settle
    (AMBIGUOUS_MISSING, [entry("AccessDenied")], {}, None),  # ECR gave no answer about the image
    (AMBIGUOUS_MISSING, [], {}, None),
    (AMBIGUOUS_MISSING, [entry("ImageNotFound", revisions=(13,))], {}, None),  # another revision's image
    (NOT_FOUND, [entry()], {}, None),                # an unambiguous text stays as it is
    (DENIED, [entry()], {"executionRoleArn": None}, None),
    (DENIED, [entry(platforms=["linux/arm64"])], {}, None),
    ("Essential container in task exited", [entry("ImageNotFound")], {}, None),  # not a pull failure
])
def test_what_ecr_says_about_a_revisions_images_settles_its_pull_failures(reason, images, fields, refined):
    [v] = pull_verdicts(reason, images, td12=fields)
    assert ((v.evidence_rule.id, v.evidence_note) if v.evidence_rule else None) == refined


def test_ecr_settles_every_pull_failure_of_the_revision_and_only_of_it():
    b = steady(running=0)
    b.taskdef(13)
    b.stopped(12, age=13)  # an application exit first: nothing for ECR to settle
    for revision, age in ((12, 12), (13, 11), (12, 10)):
        b.stopped(revision, "TaskFailedToStart", AMBIGUOUS_MISSING, exit_code=None, age=age)
    verdicts = Analysis(read_view(document(b, [entry("ImageNotFound")]))).verdicts
    assert [(v.revision, v.cause) for v in verdicts] == [(TD.format(12), "app-crash"),
                                                         (TD.format(12), "image-not-found"),
                                                         (TD.format(13), "image-not-found"),
                                                         (TD.format(12), "image-not-found")]
    assert [v.evidence_rule.id if v.evidence_rule else None for v in verdicts] == [None, "I01", None, "I01"]


# ---- ImageAnalyzer: today's cause or a risk beside it --------------------------------------------------------

def proposed(doc: dict[str, Any]):
    return [(h.cause, h.rule.id, h.tier, h.summary, h.evidence, [s.revision for s in h.signals])
            for h in ImageAnalyzer().propose(Analysis(read_view(doc)))]


MISSING = f"ecr: ImageNotFound {ECR}:v9 (api:12)"
MISSING_SUMMARY = "Tasks point at an image that ECR does not have. (1 images)"


@pytest.mark.parametrize("b, tier", [
    (steady(), Tier.ALSO),                                          # runs fine: a risk for its next task
    (steady(running=1), Tier.FAILURE),                              # tasks are missing: the current revision
])
def test_a_missing_image_is_the_cause_while_tasks_are_missing_and_a_risk_otherwise(b, tier):
    assert proposed(document(b, [entry("ImageNotFound", image=f"{ECR}:v9")])) == [
        ("image-not-found", "I01", tier, MISSING_SUMMARY, [MISSING], [TD.format(12)])]


def test_a_revision_being_deployed_or_failing_is_in_play():
    b = steady()
    b.deployment(13, status="ACTIVE", rollout="IN_PROGRESS", age=20)   # being deployed
    b.deployment(14, status="ACTIVE", rollout=None, age=30)            # no rollout state: not in play
    b.deployment(15, status="ACTIVE", rollout="COMPLETED", age=40)
    b.service_deployment(16, "ROLLBACK_SUCCESSFUL", age=20)            # rolled back: failing
    doc = document(b, [entry("ImageNotFound", revisions=(13, 14, 15, 16, 12))])
    doc["service"]["deployments"].append({"id": "ecs-svc/x", "rolloutState": "IN_PROGRESS"})  # names no revision
    [today, risk] = proposed(doc)
    assert today[:3] == ("image-not-found", "I01", Tier.FAILURE) and today[5] == [TD.format(13), TD.format(16)]
    assert today[3] == "Tasks point at an image that ECR does not have. (2 images)"
    assert risk[:3] == ("image-not-found", "I01", Tier.ALSO)
    assert risk[5] == [TD.format(14), TD.format(15), TD.format(12)]


def test_a_platform_mismatch_and_a_missing_image_are_two_hypotheses_the_most_signalled_first():
    b = steady(running=1)
    doc = document(b, [entry("ImageNotFound", image=f"{ECR}:v9"), entry(platforms=["linux/arm64"]),
                       entry(platforms=["linux/arm64"], image=f"{ECR}:v2")])
    assert [(cause, rule, tier, len(evidence)) for cause, rule, tier, _, evidence, _ in proposed(doc)] == [
        ("image-platform-mismatch", "I02", Tier.FAILURE, 2), ("image-not-found", "I01", Tier.FAILURE, 1)]


def test_a_missing_execution_role_is_only_ever_a_risk_beside_the_cause():
    b = steady(running=0)
    doc = document(b, [entry()], td12={"executionRoleArn": None})
    assert proposed(doc) == [
        ("image-pull-access-denied", "I03", Tier.ALSO,
         "A Fargate revision pulls a private ECR image without a task execution role.",
         [f"ecr: no execution role {ECR}:v1.12 (api:12): Fargate pulls private ECR images with it"],
         [TD.format(12)])]


def test_images_ecr_has_propose_nothing():
    assert proposed(document(steady(running=0), [entry(), entry(image=f"{ECR}:v2")])) == []


def test_an_ecr_failure_code_no_rule_knows_is_no_signal():
    assert proposed(document(steady(running=0), [entry("KmsError"), entry("AccessDenied", image=f"{ECR}:v2")])) == []
