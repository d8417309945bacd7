"""What the workflow steps and the APIs work with, built once per Lambda container."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..aws.session import AwsContext
from ..config import ECSDeepAgentConfig
from .approval_store import PostgresApprovalStore
from .audit_store import PostgresAuditLog
from .incident_store import PostgresIncidentStore
from .metrics import IncidentMetrics
from .settings import RuntimeSettings


@dataclass
class Services:
    conn: Any
    config: ECSDeepAgentConfig
    settings: RuntimeSettings
    metrics: IncidentMetrics
    _contexts: dict[str, AwsContext] = field(default_factory=dict)

    @classmethod
    def from_env(cls, conn: Any, metrics: IncidentMetrics | None = None) -> Services:
        return cls(conn=conn, config=ECSDeepAgentConfig.load(), settings=RuntimeSettings.from_env(),
                   metrics=metrics or IncidentMetrics())

    def ctx(self, region: str | None = None) -> AwsContext:
        region = region or self.config.aws_region or ""
        if region not in self._contexts:
            self._contexts[region] = AwsContext(region=region or None)
        return self._contexts[region]

    @property
    def incidents(self) -> PostgresIncidentStore:
        return PostgresIncidentStore(self.conn)

    @property
    def approvals(self) -> PostgresApprovalStore:
        return PostgresApprovalStore(self.conn)

    @property
    def audit(self) -> PostgresAuditLog:
        return PostgresAuditLog(self.conn)

    def reports(self, region: str | None = None) -> Any:
        from ..reports.store import ReportStore

        if not self.settings.reports_bucket:
            raise RuntimeError("REPORTS_BUCKET is not set: the workflow writes its reports to S3")
        return ReportStore(bucket=self.settings.reports_bucket, s3_client=self.ctx(region).client("s3"))
