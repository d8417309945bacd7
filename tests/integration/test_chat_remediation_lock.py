"""`ecs-agent chat` on PostgreSQL applies an approved plan in-process, holding the service's lease the serverless
workflow's Remediate step takes: while another remediation holds the service, the chat changes nothing."""
from __future__ import annotations

import getpass

import psycopg
import pytest
from psycopg.rows import dict_row

from agents.aws_ecs_service.domain.target import ServiceTarget
from agents.aws_ecs_service.incidents.schema import migrate
from agents.aws_ecs_service.interfaces.chat_cli import run_chat
from tests.conftest import load_scenario

pytestmark = pytest.mark.postgres


def _chat(answers: list[str], thread: str) -> str:
    printed: list[str] = []
    feed = iter(answers)
    run_chat(thread_id=thread, input_fn=lambda _prompt: next(feed), print_fn=printed.append, verify_timeout_s=2)
    return "\n".join(printed)


@pytest.mark.attack("two remediations of one service at once")
def test_chat_on_postgres_takes_the_services_lease_before_it_writes(play_scenario, pg_schema_url, monkeypatch,
                                                                   tmp_path):
    scenario = load_scenario("scaled-to-zero")
    fake = play_scenario(scenario)
    for key, value in {"XDG_DATA_HOME": str(tmp_path), "DATABASE_URL": pg_schema_url, "ALLOW_WRITE": "true",
                       "REMEDIATION_LOCK_WAIT_S": "0"}.items():
        monkeypatch.setenv(key, value)
    key = ServiceTarget.from_names(scenario["account"], scenario["region"], scenario["target"]["cluster"],
                                   scenario["target"]["service"]).key
    with psycopg.connect(pg_schema_url, autocommit=True, row_factory=dict_row) as conn:
        migrate(conn)
        conn.execute("insert into ecs_agent_remediation_locks (service_key, incident_id, holder, expires_at) "
                     "values (%s, 'inc-other', 'workflow exec-other', now() + interval '5 minutes')", (key,))

        busy = _chat(["prod/api has no tasks", "fix it", "y", "exit"], "thread-lease")
        assert f"refused: another remediation of {key} is in progress: incident inc-other" in busy
        assert [c for c in fake.calls if c["write"]] == []

        conn.execute("update ecs_agent_remediation_locks set released_at = now() where incident_id = 'inc-other'")
        free = _chat(["fix it", "y", "exit"], "thread-lease")
        assert "step 1: ecs:UpdateService ok" in free
        assert [c["op"] for c in fake.calls if c["write"]] == ["UpdateService"]
        [ours] = conn.execute("select holder, released_at from ecs_agent_remediation_locks "
                              "where incident_id <> 'inc-other'").fetchall()
    assert ours["holder"] == f"ecs-agent chat, thread thread-lease (approved by {getpass.getuser()})"
    assert ours["released_at"] is not None
