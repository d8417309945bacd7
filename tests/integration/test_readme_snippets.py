"""The README's library snippets run as written (offline model, AWS played by fakeaws); its langgraph-sdk snippet
runs against `langgraph dev` in tests/integration/test_studio.py."""
from __future__ import annotations

from tests.readme_snippets import python_blocks, run_block


def test_the_readme_python_snippets_run_as_written_even_without_a_thread_id(play_scenario, monkeypatch):
    play_scenario("cpu-saturated")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    blocks = [b for b in python_blocks() if "langgraph_sdk" not in b]
    assert blocks and any("await agent.ainvoke(state)" in b for b in blocks)  # the seed's snippet, no thread id
    namespace: dict = {}
    printed = "".join(run_block(block, namespace) for block in blocks)
    assert "prod/api" in printed and "cpu-saturation" in printed  # the reply to "My API service is having issues"
    assert namespace["result"]["findings"]["target"]["service"] == "api"
