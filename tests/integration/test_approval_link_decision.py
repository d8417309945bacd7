"""The decision an approval link was signed for is the only decision it can make.

Today the approval function takes the POST body's `decision` over the link's signed one (and a bare POST decides
with the link's): these tests state what it must do once issue 11 lands, and are expected to fail until then.
`strict=True` makes them fail loudly the day they pass: then the marker goes.
"""
from __future__ import annotations

import pytest

from tests.integration.test_approval_attacks import (  # noqa: F401 - world and calls are fixtures
    assert_undecided,
    calls,
    finish,
    open_incident,
    world,
)

pytestmark = [pytest.mark.postgres,
              pytest.mark.xfail(strict=True, reason="approval link decision enforcement lands with issue 11")]


@pytest.mark.parametrize("link, body", [
    ("reject", "decision=approve&name=Mallory"),   # a reject link turned into an approval by the form
    ("approve", "decision=reject&name=Mallory"),
    ("approve", "name=Mallory"),                   # no decision stated: a prefetching scanner's bare POST
    ("reject", ""),
], ids=["reject-link-posts-approve", "approve-link-posts-reject", "approve-link-bare-post", "reject-link-bare-post"])
def test_a_link_decides_only_what_it_was_signed_for_and_only_when_the_post_says_so(world, calls, link, body):  # noqa: F811
    started, links = open_incident(world)
    try:
        answer = world.approval("POST", links[link], body)
        assert 400 <= answer["statusCode"] < 500, answer["statusCode"]
        assert_undecided(world, calls, started)
    finally:
        finish(world, started, links)
