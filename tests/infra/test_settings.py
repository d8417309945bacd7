"""Deployment settings from CDK context."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from infra.settings import Settings


def test_command_line_strings_become_lists_and_booleans():
    context = {"clusters": "prod, staging", "allowWrite": "true", "notificationEmail": "a@example.com",
               "logRetentionDays": "90"}
    settings = Settings.from_context(context.get)
    assert settings.clusters == ["prod", "staging"]
    assert settings.write_clusters == ["prod", "staging"]
    assert settings.allow_write is True and settings.log_retention_days == 90


def test_defaults_are_read_only_and_protected():
    settings = Settings.from_context({}.get)
    assert settings.allow_write is False and settings.deletion_protection is True
    assert settings.clusters == ["default"] and settings.notification_emails == []
    assert settings.writable_clusters == []


def test_defaults_fit_a_fresh_account_and_verify_for_an_hour_at_most():
    settings = Settings.from_context({}.get)
    assert settings.chat_concurrency == 0 and settings.verify_ceiling_minutes == 60
    assert Settings.from_context({"verifyCeilingMinutes": "15"}.get).verify_ceiling_minutes == 15


def test_writable_clusters_are_the_write_clusters_only_when_writes_are_allowed():
    context = {"clusters": "prod,staging", "writeClusters": "prod"}
    assert Settings.from_context(context.get).writable_clusters == []
    assert Settings.from_context({**context, "allowWrite": "true"}.get).writable_clusters == ["prod"]


@pytest.mark.parametrize("context, message", [
    ({"clusters": "prod", "writeClusters": "prod,other"}, "not watched: other"),
    ({"notificationEmail": "oncall"}, "not an email address"),
    ({"clusters": " , "}, "name at least one ECS cluster"),
    ({"network": "public"}, "network"),
    ({"verifyCeilingMinutes": "0"}, "verify_ceiling_minutes"),
    ({"chatConcurrency": "-1"}, "chat_concurrency"),
])
def test_bad_context_is_refused_with_the_reason(context, message):
    with pytest.raises(ValidationError, match=message):
        Settings.from_context(context.get)
