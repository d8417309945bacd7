"""`ecs-agent chat`: progress lines, the approval prompt, and --thread continuing after a restart (SQLite)."""
from __future__ import annotations

import os
import signal

from agents.aws_ecs_service.interfaces.chat_cli import run_chat
from tests.conftest import load_scenario


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
    assert "Plan: Restore api to 1 task" in text and "ecs:UpdateService(cluster=prod, service=api, desiredCount=1)" in text
    assert "Service: prod/api in account 123456789012, region us-east-1" in text and "Diagnosis: scaled-to-zero" in text
    assert "Rejected: nothing was changed in AWS." in text
    assert not [c for c in fake.calls if c["write"]]

    out = _run(["fix it", "y", "exit"], "thread-cli", db)  # a new process would see the same file
    text = "\n".join(out)
    assert "continuing conversation thread-cli" in text
    assert [c["op"] for c in fake.calls if c["write"]] == ["UpdateService"]
    assert "step 1: ecs:UpdateService ok" in text


def test_a_question_at_the_approval_prompt_is_answered_and_the_prompt_asked_again(play_scenario, monkeypatch, tmp_path):
    fake = play_scenario("oom-after-deploy")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOW_WRITE", "true")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    prompts: list[str] = []
    printed: list[str] = []
    feed = iter(["roll back prod/api", "what does it remove?", "how do I undo it?", "no", "exit"])

    def answer(prompt: str) -> str:
        prompts.append(prompt)
        return next(feed)

    run_chat(thread_id="thread-q", input_fn=answer, print_fn=printed.append, sqlite_path=tmp_path / "chat.sqlite",
             verify_timeout_s=2)
    text = "\n".join(printed)
    assert prompts.count("Approve this change? [y/N or a question] ") == 3  # asked again after each question
    assert "It reverts or removes:\n  - memory 1024 -> 2048" in text
    assert "To undo:\n  - ecs:UpdateService(cluster=prod, service=api, taskDefinition=api:62)" in text
    assert "Rejected: nothing was changed in AWS." in text
    assert not [c for c in fake.calls if c["write"]]


def test_ctrl_c_during_the_verification_stops_the_wait_and_the_chat_goes_on(play_scenario, monkeypatch, tmp_path):
    scenario = load_scenario("scaled-to-zero")
    scenario.pop("transitions", None)  # the service never recovers: the verification would wait its whole window
    fake = play_scenario(scenario)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("ALLOW_WRITE", "true")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    printed: list[str] = []

    def show(line: str) -> None:
        printed.append(line)
        if line.startswith("  … verify poll 2:"):
            os.kill(os.getpid(), signal.SIGINT)  # the person presses Ctrl-C while it waits

    feed = iter(["prod/api has no tasks", "fix it", "y", "what can you do?", "exit"])
    run_chat(thread_id="thread-wait", input_fn=lambda _prompt: next(feed), print_fn=show,
             sqlite_path=tmp_path / "chat.sqlite", verify_timeout_s=600)
    text = "\n".join(printed)
    assert [c["op"] for c in fake.calls if c["write"]] == ["UpdateService"]
    # each poll is printed as it happens, in a person's terms
    assert "  … verify poll 1: 1/1 tasks running on api:31; waiting for: alarm api-running-tasks-low OK" in text
    assert "Verification interrupted (you stopped the wait)" in text
    assert 'Check later: ask "is it healthy now?" in this conversation' in text
    assert not any(line.startswith("  … verify poll 3:") for line in printed)
    # the conversation went on: the next message got its own reply
    replies = [line for line in printed if line.startswith("agent> ")]
    assert "Verification interrupted" in replies[-2] and replies[-1] != replies[-2]
