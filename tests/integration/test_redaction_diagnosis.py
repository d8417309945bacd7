"""Redaction never changes the diagnosis: the same world triaged with and without it gives the same answer.

The classifier runs on the redacted evidence (so `ecs-agent replay evidence.json` answers the same), and it
joins stopped tasks to their log streams and events on task ids. A cluster named `prod-Orders1` puts
`Orders1/<32-hex task id>` in every task ARN: 40 base64 characters with upper and lower case and digits, the
shape of an AWS secret access key, which the old bare-key pattern masked. The tasks then matched no log
stream and the log-only cause (the application's ImportError) disappeared from the answer.
"""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.aws.session import AwsContext
from agents.aws_ecs_service.diagnosis.engine import run_triage
from tests.conftest import load_scenario, scenario_files

RENAMED = [("app-crash-import-error", "prod-Orders1"), ("oom-after-deploy", "my-Cluster"),
           ("secret-access-denied", "Prod01")]


def with_cluster(name: str, cluster: str | None) -> dict:
    sc = load_scenario(name)
    if cluster:
        old, sc["target"]["cluster"] = sc["target"]["cluster"], cluster
        for item in (*sc["ecs"]["clusters"], *sc["ecs"]["services"], *sc["ecs"].get("tasks", []),
                     *sc["ecs"].get("containerInstances", [])):
            for key in ("clusterName", "cluster"):
                if item.get(key) == old:
                    item[key] = cluster
    return sc


def answer(result) -> dict:
    found = result.to_json_dict()
    return {k: found[k] for k in ("status", "root_cause", "findings", "suggested_actions")}


@pytest.mark.parametrize(("name", "cluster"), [(p.stem, None) for p in scenario_files()] + RENAMED,
                         ids=[p.stem for p in scenario_files()] + [f"{n}@{c}" for n, c in RENAMED])
def test_redacted_evidence_gives_the_same_diagnosis(play_scenario, name, cluster):
    sc = with_cluster(name, cluster)
    play_scenario(sc)
    ctx, target = AwsContext(region=sc["region"]), sc["target"]
    raw, _ = run_triage(ctx, target["cluster"], target["service"], allow_sensitive_data=True)
    redacted, evidence = run_triage(ctx, target["cluster"], target["service"])
    assert evidence["redacted"] is True
    assert raw.root_cause.category == sc["expected"]["root_cause"]
    assert answer(redacted) == answer(raw)
    tasks = evidence["tasks"]["running"] + evidence["tasks"]["stopped"]
    assert all(t["taskArn"].startswith(f"arn:aws:ecs:{sc['region']}:") and "<redacted>" not in t["taskArn"]
               for t in tasks)
