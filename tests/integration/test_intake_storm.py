"""The intake storm of bench/intake_storm.py, smaller: mixed events (four kinds, hostile text, duplicates, poison)
for several services through the intake function into the real workflow on moto, with real PostgreSQL."""
from __future__ import annotations

import pytest

from bench.intake_storm import held, run_storm

pytestmark = [pytest.mark.postgres, pytest.mark.slow]  # a storm of events through moto's Step Functions


@pytest.mark.attack("intake storm")
def test_a_storm_starts_one_execution_per_incident_with_bounded_connections(aws_env, pg_schema_url):
    result = run_storm(pg_schema_url, events=500, services=10, containers=4, timeout_s=120)
    assert {"poison", "duplicate", "deployment (hostile text)"} <= set(result.kinds)
    assert result.intake.errors == []
    assert result.intake.outcomes["dropped"] >= result.kinds["poison"]
    assert result.names_match  # exactly one execution per incident, named after it
    assert result.executions == {"SUCCEEDED": result.incidents}
    # a step invocation holds one connection while it runs and none after (at most one per open incident); each
    # intake container keeps its own
    assert 0 < result.peak_connections <= result.incidents + result.intake_containers
    assert result.incidents <= result.services < result.events / 10
    assert held(result)
