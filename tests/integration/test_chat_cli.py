"""`ecs-agent chat`: progress lines, the approval prompt, and --thread continuing after a restart (SQLite)."""
from __future__ import annotations

from agents.aws_ecs_service.interfaces.chat_cli import run_chat


def _run(answers: list[str], thread: str | None, sqlite_path) -> list[str]:
    printed: list[str] = []
    feed = iter(answers)
    run_chat(thread_id=thread, input_fn=lambda _prompt: next(feed), print_fn=printed.append, sqlite_path=sqlite_path,
             verify_timeout_s=2)
    return printed


def test_chat_streams_progress_asks_approval_and_continues_a_thread(play_scenario, monkeypatch, tmp_path):
    fake = play_scenario("scaled-to-zero")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOW_WRITE", "true")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    db = tmp_path / "chat.sqlite"

    out = _run(["prod/api has no tasks", "fix it", "n", "exit"], "thread-cli", db)
    text = "\n".join(out)
    assert "new conversation thread-cli" in text and "SQLite file" in text
    assert "… checking prod/api (us-east-1): service, tasks, deployments, logs and metrics" in text
    assert "Root cause: scaled-to-zero" in text
    assert "Plan " in text and "ecs:UpdateService(cluster=prod, service=api, desiredCount=1)" in text
    assert "Rejected: nothing was changed in AWS." in text
    assert not [c for c in fake.calls if c["write"]]

    out = _run(["fix it", "y", "exit"], "thread-cli", db)  # a new process would see the same file
    text = "\n".join(out)
    assert "continuing conversation thread-cli" in text
    assert [c["op"] for c in fake.calls if c["write"]] == ["UpdateService"]
    assert "step 1: ecs:UpdateService ok" in text
