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


@pytest.mark.parametrize("context, message", [
    ({"clusters": "prod", "writeClusters": "prod,other"}, "not watched: other"),
    ({"notificationEmail": "oncall"}, "not an email address"),
    ({"clusters": " , "}, "name at least one ECS cluster"),
    ({"network": "public"}, "network"),
])
def test_bad_context_is_refused_with_the_reason(context, message):
    with pytest.raises(ValidationError, match=message):
        Settings.from_context(context.get)
