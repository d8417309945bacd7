"""ECSDeepAgentConfig precedence: agent.yaml < environment variables < LangGraph configurable."""
from __future__ import annotations

import pytest

from agents.aws_ecs_service.config import DEFAULT_MODEL, ECSDeepAgentConfig


@pytest.fixture
def yaml_file(tmp_path):
    path = tmp_path / "agent.yaml"
    path.write_text("model: yaml-model\nallowWrite: true\nregion: eu-west-1\nprofile: yaml-profile\n"
                    "somethingNew: 42\n")
    return path


def test_yaml_then_env_then_configurable(yaml_file):
    env = {"AWS_REGION": "us-west-2", "ECS_AGENT_MODEL": "env-model"}
    configurable = {"model_name": "offline", "thread_id": "t-1", "assistant_id": "x", "langgraph_step": 3}

    from_yaml = ECSDeepAgentConfig.load(yaml_path=yaml_file, env={})
    assert (from_yaml.model_name, from_yaml.allow_write, from_yaml.aws_region, from_yaml.aws_profile) == (
        "yaml-model", True, "eu-west-1", "yaml-profile")

    from_env = ECSDeepAgentConfig.load(yaml_path=yaml_file, env=env)
    assert (from_env.model_name, from_env.aws_region, from_env.aws_profile) == ("env-model", "us-west-2",
                                                                                "yaml-profile")

    final = ECSDeepAgentConfig.load(yaml_path=yaml_file, env=env, configurable=configurable)
    assert final.model_name == "offline" and final.offline
    assert final.aws_region == "us-west-2" and final.allow_write is True


def test_env_names_of_the_issue(tmp_path):
    env = {"AWS_PROFILE": "p", "DATABASE_URL": "postgresql://x/y", "PLANTON_TOKEN": "tok", "PLANTON_ORG_ID": "org",
           "PLANTON_ENV_ID": "prod", "ECS_AGENT_MODEL": "m", "ALLOW_WRITE": "true"}
    cfg = ECSDeepAgentConfig.load(yaml_path=tmp_path / "missing.yaml", env=env)
    assert (cfg.aws_profile, cfg.database_url, cfg.planton_token, cfg.org_id, cfg.env_name, cfg.model_name,
            cfg.allow_write) == ("p", "postgresql://x/y", "tok", "org", "prod", "m", True)
    assert "tok" not in repr(cfg)


def test_unknown_fields_ignored_everywhere(yaml_file):
    direct = ECSDeepAgentConfig(model_name="offline", studio_extra={"a": 1}, langgraph_api_url="http://x")
    assert direct.model_name == "offline" and not hasattr(direct, "studio_extra")
    merged = ECSDeepAgentConfig.load(yaml_path=yaml_file, env={}, configurable={"user_id": "u", "x-foo": 1})
    assert merged.model_name == "yaml-model"


def test_defaults_without_any_source(tmp_path):
    cfg = ECSDeepAgentConfig.load(yaml_path=tmp_path / "none.yaml", env={})
    assert cfg.model_name == DEFAULT_MODEL and not cfg.allow_write and not cfg.allow_sensitive_data


def test_configurable_reaches_the_graph_nodes():
    from agents.aws_ecs_service.conversation.graph import Dependencies

    deps = Dependencies(config=ECSDeepAgentConfig(model_name="offline", allow_write=False))
    run = deps.settings({"configurable": {"thread_id": "t", "allow_write": True, "unknown": 1}})
    assert run.allow_write is True and run.model_name == "offline"
    assert deps.settings({"configurable": {"thread_id": "t"}}) is deps.config


def test_constructor_takes_explicit_fields_then_environment_then_yaml(yaml_file, monkeypatch):
    monkeypatch.setenv("ECS_AGENT_CONFIG", str(yaml_file))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("ECS_AGENT_MODEL", "env-model")
    monkeypatch.setenv("ALLOW_WRITE", "false")
    monkeypatch.setenv("PLANTON_ORG_ID", "org-env")

    cfg = ECSDeepAgentConfig(model_name="offline", studio_extra=1)
    assert cfg.model_name == "offline"  # explicit
    assert (cfg.aws_region, cfg.allow_write, cfg.org_id) == ("us-west-2", False, "org-env")  # environment
    assert cfg.aws_profile == "yaml-profile"  # agent.yaml, named by ECS_AGENT_CONFIG

    monkeypatch.delenv("AWS_REGION")
    assert ECSDeepAgentConfig().aws_region == "ap-south-1"  # the alias, below AWS_REGION


def test_load_reads_only_the_environment_it_is_given(monkeypatch, tmp_path):
    monkeypatch.setenv("ECS_AGENT_MODEL", "process-model")
    monkeypatch.setenv("DATABASE_URL", "postgresql://process/db")
    cfg = ECSDeepAgentConfig.load(yaml_path=tmp_path / "none.yaml", env={"ECS_AGENT_MODEL": "given"})
    assert (cfg.model_name, cfg.database_url) == ("given", None)
    assert ECSDeepAgentConfig().database_url == "postgresql://process/db"  # the next construction reads the process's
