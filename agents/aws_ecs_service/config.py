"""ECSDeepAgentConfig: agent.yaml < environment variables < explicit fields (or LangGraph `configurable`).

`ECSDeepAgentConfig(aws_region="us-east-1")` takes the fields given and reads the rest from the environment
(the names of _ENV_KEYS) and agent.yaml (pydantic-settings); `ECSDeepAgentConfig.load(...)` does the same from
a given environment mapping and file. Unknown fields are ignored on purpose: LangGraph Studio and other callers
send extras.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

DEFAULT_MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"

# agent.yaml key -> field name
_YAML_KEYS = {
    "model": "model_name",
    "allowWrite": "allow_write",
    "allowSensitiveData": "allow_sensitive_data",
    "region": "aws_region",
    "profile": "aws_profile",
    "databaseUrl": "database_url",
    "reportsBucket": "reports_bucket",
    "reportsKmsKeyId": "reports_kms_key_id",
    "plantonToken": "planton_token",
    "orgId": "org_id",
    "envName": "env_name",
    "targets": "targets",
}

# environment variable -> field name
_ENV_KEYS = {
    "ECS_AGENT_MODEL": "model_name",
    "ALLOW_WRITE": "allow_write",
    "ALLOW_SENSITIVE_DATA": "allow_sensitive_data",
    "AWS_REGION": "aws_region",
    "AWS_DEFAULT_REGION": "aws_region",
    "AWS_PROFILE": "aws_profile",
    "DATABASE_URL": "database_url",
    "REPORTS_BUCKET": "reports_bucket",
    "REPORTS_KMS_KEY_ID": "reports_kms_key_id",
    "PLANTON_TOKEN": "planton_token",
    "PLANTON_ORG_ID": "org_id",
    "PLANTON_ENV_ID": "env_name",
}


class ECSDeepAgentConfig(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    # the descriptions are what LangGraph Studio shows beside each field of the assistant's configuration
    model_name: str = Field(DEFAULT_MODEL, description="Bedrock model or inference-profile id; 'offline': no model")
    allow_write: bool = Field(False, description="apply approved changes (the policy guard still checks each one)")
    allow_sensitive_data: bool = Field(False, description="keep env values, secret refs and tokens in evidence")
    aws_region: str | None = Field(None, description="AWS region to look in (default: AWS_REGION)")
    aws_profile: str | None = Field(None, description="AWS profile (default: AWS_PROFILE)")
    database_url: str | None = Field(None, description="PostgreSQL for conversation memory and approvals")
    reports_bucket: str | None = Field(None, description="S3 bucket for the incident reports")
    reports_kms_key_id: str | None = Field(None, description="KMS key for report objects (unset: SSE-S3)")
    planton_token: str | None = Field(None, repr=False, description="Planton Cloud API token (discovery)")
    org_id: str | None = Field(None, description="Planton Cloud organization")
    env_name: str | None = Field(None, description="Planton Cloud environment")
    targets: list[dict[str, Any]] = Field(default_factory=list, description="AWS accounts/regions to assume into")

    @property
    def offline(self) -> bool:
        return self.model_name.strip().lower() == "offline"

    @classmethod
    def load(
        cls,
        yaml_path: str | os.PathLike | None = None,
        env: Mapping[str, str] | None = None,
        configurable: Mapping[str, Any] | None = None,
        **overrides: Any,
    ) -> ECSDeepAgentConfig:
        """The settings read from `env` (default: the process environment) and `yaml_path` (default: agent.yaml or
        ECS_AGENT_CONFIG), with `configurable`'s known fields and then `overrides` on top (None: not given)."""
        explicit = {k: v for k, v in (configurable or {}).items() if k in cls.model_fields and v is not None}
        explicit.update({k: v for k, v in overrides.items() if v is not None})
        token = _SOURCES.set((os.environ if env is None else env, yaml_path))
        try:
            return cls(**explicit)
        finally:
            _SOURCES.reset(token)

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   **_: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit fields, then the environment's _ENV_KEYS, then agent.yaml (no .env file, no other names)."""
        return (init_settings, _Values(settings_cls, lambda: _env_values(_SOURCES.get()[0])),
                _Values(settings_cls, lambda: _read_yaml(_SOURCES.get()[1])))


# The environment and agent.yaml path the settings are read from: `load` names them for one construction.
_SOURCES: ContextVar[tuple[Mapping[str, str], str | os.PathLike | None]] = ContextVar(
    "ecs_agent_config_sources", default=(os.environ, None))


class _Values(PydanticBaseSettingsSource):
    """A settings source whose values come already named by field (the environment's, agent.yaml's)."""

    def __init__(self, settings_cls: type[BaseSettings], read: Callable[[], dict[str, Any]]):
        super().__init__(settings_cls)
        self._read = read

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every value at once

    def __call__(self) -> dict[str, Any]:
        return self._read()


def _env_values(env: Mapping[str, str]) -> dict[str, Any]:
    """The fields set by environment variables; AWS_REGION wins over AWS_DEFAULT_REGION, as in boto3."""
    values: dict[str, Any] = {}
    for key in ("AWS_DEFAULT_REGION", *[k for k in _ENV_KEYS if k != "AWS_DEFAULT_REGION"]):
        if env.get(key):
            values[_ENV_KEYS[key]] = env[key]
    return values


def _read_yaml(path: str | os.PathLike | None) -> dict[str, Any]:
    candidate = Path(path) if path else Path(os.environ.get("ECS_AGENT_CONFIG", "agent.yaml"))
    if not candidate.is_file():
        return {}
    import yaml

    data = yaml.safe_load(candidate.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{candidate}: expected a mapping at the top level")
    return {_YAML_KEYS.get(k, k): v for k, v in data.items()}
