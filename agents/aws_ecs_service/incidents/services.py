"""What the workflow steps and the APIs work with: stores over one connection, the lifecycle, AWS sessions.

The AWS session pool is the process's (a warm Lambda container keeps its boto3 sessions and clients
between invocations); stores are cheap views over the invocation's database connection.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..aws.session import AwsContext, SessionPool, shared_pool
from ..config import ECSDeepAgentConfig
from ..domain.incident import Incident
from ..domain.write_policy import WriteScope
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
    pool: SessionPool | None = None

    @classmethod
    def from_env(cls, conn: Any, metrics: IncidentMetrics | None = None) -> Services:
        config = ECSDeepAgentConfig.load()
        return cls(conn=conn, config=config, settings=RuntimeSettings.from_env(),
                   metrics=metrics or IncidentMetrics(), pool=shared_pool(config.aws_profile))

    @property
    def sessions(self) -> SessionPool:
        if self.pool is None:
            self.pool = shared_pool(self.config.aws_profile)
        return self.pool

    def ctx(self, region: str | None = None) -> AwsContext:
        """The stack's own account (Step Functions, SNS, S3) in `region` (default: the function's)."""
        return self.sessions.context(region or self.config.aws_region)

    @property
    def scope(self) -> WriteScope:
        return WriteScope.of(self.config.allow_write, self.settings.writable_clusters())

    @property
    def incidents(self) -> PostgresIncidentStore:
        return PostgresIncidentStore(self.conn, self.settings.join_policy())

    @property
    def approvals(self) -> PostgresApprovalStore:
        return PostgresApprovalStore(self.conn)

    @property
    def audit(self) -> PostgresAuditLog:
        return PostgresAuditLog(self.conn)

    def reports(self, _incident: Incident | None = None) -> Any:
        from ..reports.store import ReportStore

        if not self.settings.reports_bucket:
            raise RuntimeError("REPORTS_BUCKET is not set: the workflow writes its reports to S3")
        return ReportStore(bucket=self.settings.reports_bucket, kms_key_id=self.config.reports_kms_key_id,
                           s3_client=self.ctx().client("s3"))

    def lifecycle(self) -> Any:
        from ..operations.lifecycle import Lifecycle
        from .notify import TopicNotifier
        from .remediation_lock import PostgresRemediationLock

        notifier = TopicNotifier(self.ctx().client("sns"), self.settings.notification_topic_arn) \
            if self.settings.notification_topic_arn else None
        return Lifecycle(incidents=self.incidents, approvals=self.approvals, audit=self.audit, sessions=self.sessions,
                         scope=self.scope, reports=self.reports, notifier=notifier,
                         lock=PostgresRemediationLock(self.conn, wait_s=self.settings.remediation_lock_wait_s,
                                                      ttl_s=self.settings.remediation_lock_ttl_s),
                         allow_sensitive_data=self.config.allow_sensitive_data)
