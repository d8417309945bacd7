"""The chat function's local runtime for the chat API tests: a migrated database, its environment, and a
fresh "Lambda container" (no cached service, no open connection) per test."""
from __future__ import annotations

import pytest

from tests.local_chat_api import chat_environment, migrate_all


@pytest.fixture
def fresh_container(monkeypatch):
    """Call it to start over as a new Lambda container would (the next request reconnects and rebuilds)."""
    import functions.chat_api as chat_api
    from agents.aws_ecs_service.incidents import database

    def start_over() -> None:
        if database._cached is not None:
            database._cached.close()
        monkeypatch.setattr(database, "_cached", None)
        monkeypatch.setattr(chat_api, "_chat", None)

    start_over()
    yield start_over
    if database._cached is not None:
        database._cached.close()


@pytest.fixture
def chat_db(pg_schema_url, monkeypatch, fresh_container):
    migrate_all(pg_schema_url)
    for key, value in chat_environment(pg_schema_url).items():
        monkeypatch.setenv(key, value)
    return pg_schema_url
