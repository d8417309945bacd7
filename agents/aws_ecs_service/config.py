"""ECSDeepAgentConfig: agent.yaml < environment variables < LangGraph `configurable`.

Unknown fields are ignored on purpose: LangGraph Studio and other callers send extras.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

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


class ECSDeepAgentConfig(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    model_name: str = DEFAULT_MODEL
    allow_write: bool = False
    allow_sensitive_data: bool = False
    aws_region: str | None = None
    aws_profile: str | None = None
    database_url: str | None = None
    reports_bucket: str | None = None
    reports_kms_key_id: str | None = None  # SSE-KMS for report objects; unset: SSE-S3
    planton_token: str | None = Field(default=None, repr=False)
    org_id: str | None = None
    env_name: str | None = None
    targets: list[dict[str, Any]] = Field(default_factory=list)

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
        """Merge the three sources in order of precedence, then explicit overrides."""
        values: dict[str, Any] = {}
        values.update(_read_yaml(yaml_path))
        env = os.environ if env is None else env
        # AWS_REGION wins over AWS_DEFAULT_REGION, as in boto3.
        for key in ("AWS_DEFAULT_REGION", *[k for k in _ENV_KEYS if k != "AWS_DEFAULT_REGION"]):
            if env.get(key):
                values[_ENV_KEYS[key]] = env[key]
        for key, value in (configurable or {}).items():
            if key in cls.model_fields and value is not None:
                values[key] = value
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(values)


def _read_yaml(path: str | os.PathLike | None) -> dict[str, Any]:
    candidate = Path(path) if path else Path(os.environ.get("ECS_AGENT_CONFIG", "agent.yaml"))
    if not candidate.is_file():
        return {}
    import yaml

    data = yaml.safe_load(candidate.read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{candidate}: expected a mapping at the top level")
    return {_YAML_KEYS.get(k, k): v for k, v in data.items()}
