"""bench/chat_load.py at a reduced size: concurrent conversations over HTTP, each answered as expected."""
from __future__ import annotations

import pytest

from bench.chat_load import REQUESTS_PER_CONVERSATION, SCENARIO, run_load

pytestmark = pytest.mark.postgres


@pytest.mark.attack("chat load: concurrent conversations")
def test_ten_concurrent_conversations_get_only_expected_answers(play_scenario, chat_db):
    play_scenario(SCENARIO)
    result = run_load(chat_db, conversations=10, containers=4)
    assert result["errors"] == 0, result["failures"]
    assert result["requests"] == 10 * REQUESTS_PER_CONVERSATION
