"""Deployment settings read from CDK context (`-c key=value` or cdk.json), validated once.

Context values given on the command line arrive as strings, so lists are comma-separated and
booleans are "true"/"false".
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agents.aws_ecs_service.config import DEFAULT_MODEL

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ASL = REPO_ROOT / "functions" / "workflow" / "state_machine.asl.json"

# context key -> field name
CONTEXT_KEYS = {
    "notificationEmail": "notification_emails",
    "clusters": "clusters",
    "writeClusters": "write_clusters",
    "taskRoleArns": "task_role_arns",
    "modelId": "model_id",
    "allowWrite": "allow_write",
    "logRetentionDays": "log_retention_days",
    "reportRetentionDays": "report_retention_days",
    "backupRetentionDays": "backup_retention_days",
    "deletionProtection": "deletion_protection",
    "multiAz": "multi_az",
    "network": "network",
    "snapStart": "snap_start",
    "chatConcurrency": "chat_concurrency",
    "verifyCeilingMinutes": "verify_ceiling_minutes",
    "logLevel": "log_level",
    "assetMode": "asset_mode",
    "stateMachineDefinition": "state_machine_definition",
    "lambdaDepsCache": "lambda_deps_cache",
    "stackName": "stack_name",
}


def _csv(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stack_name: str = "EcsIncidentAgent"
    notification_emails: list[str] = Field(default_factory=list)
    # ECS's own default cluster, so a bare `cdk synth` works; a deploy names the real ones.
    clusters: list[str] = Field(default_factory=lambda: ["default"])
    write_clusters: list[str] | None = None
    # Roles the remediate function may pass to ECS (RunTask overrides); default: any role in the
    # account, and only to ecs-tasks.amazonaws.com.
    task_role_arns: list[str] = Field(default_factory=list)
    model_id: str = DEFAULT_MODEL
    allow_write: bool = False
    log_retention_days: int = 30
    report_retention_days: int = 365
    backup_retention_days: int = 7
    deletion_protection: bool = True
    multi_az: bool = False
    network: Literal["endpoints", "nat"] = "endpoints"
    snap_start: bool = True
    # Reserved concurrency of the chat function; 0 reserves none. A reservation comes out of the account's
    # concurrency quota, and Lambda refuses one that leaves less than its minimum unreserved (100 in AWS's
    # documentation): an account still at a starting quota (as low as 10) has nothing to reserve from.
    chat_concurrency: int = Field(default=0, ge=0)
    # The longest the workflow verifies a change; the functions shorten it to what the service's load
    # balancer needs (health checks, deregistration delay) at run time.
    verify_ceiling_minutes: int = Field(default=60, ge=1, le=24 * 60)
    log_level: str = "INFO"
    asset_mode: Literal["bundled", "source"] = "bundled"
    state_machine_definition: Path = DEFAULT_ASL
    lambda_deps_cache: Path = REPO_ROOT / "build" / "lambda-deps"

    @field_validator("notification_emails", "clusters", "write_clusters", "task_role_arns", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        return None if value is None else _csv(value)

    @field_validator("notification_emails")
    @classmethod
    def _emails(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if "@" not in v]
        if bad:
            raise ValueError(f"not an email address: {', '.join(bad)}")
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if not self.clusters:
            raise ValueError("clusters: name at least one ECS cluster (-c clusters=prod,staging)")
        if self.write_clusters is None:
            self.write_clusters = list(self.clusters)
        outside = sorted(set(self.write_clusters) - set(self.clusters))
        if outside:
            raise ValueError(f"writeClusters must be a subset of clusters; not watched: {', '.join(outside)}")
        return self

    @property
    def writable_clusters(self) -> list[str]:
        """The clusters IAM lets the agent change: none unless allowWrite is on."""
        return list(self.write_clusters or []) if self.allow_write else []

    @classmethod
    def from_context(cls, get: Any) -> Settings:
        """`get` is `node.try_get_context`; unset keys keep their defaults."""
        values = {field: get(key) for key, field in CONTEXT_KEYS.items()}
        return cls.model_validate({k: v for k, v in values.items() if v is not None})
