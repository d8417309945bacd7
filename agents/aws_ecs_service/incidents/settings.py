"""What the serverless functions read from their environment (set by the CDK stack).

Agent behaviour (model, allowWrite, sensitive data) stays in ECSDeepAgentConfig; this holds
only the wiring between the functions and the knobs of the workflow's waits.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping

from pydantic import BaseModel

from ..domain.incident import JoinPolicy

DEFAULT_APPROVAL_TTL_S = 24 * 3600
DEFAULT_VERIFY_WAIT_S = 30
DEFAULT_VERIFY_MAX_POLLS = 20  # with the wait: about 10 minutes, when the service gives no longer window
DEFAULT_VERIFY_CEILING_S = 3600
APPROVAL_TIMEOUT_GRACE_S = 60  # the state's hard timeout comes after the link's expiry
DEFAULT_REMEDIATION_LOCK_WAIT_S = 120  # a second remediation of one service waits this long, then is refused
DEFAULT_REMEDIATION_LOCK_TTL_S = 330  # the remediate function's 300 s timeout and a margin: a dead holder's lease


class RuntimeSettings(BaseModel):
    state_machine_arn: str = ""
    notification_topic_arn: str = ""
    reports_bucket: str = ""
    approval_key_secret_arn: str = ""
    approval_base_url: str = ""
    allowed_clusters: list[str] = []  # watched (empty: every cluster)
    write_clusters: list[str] | None = None  # writable, as IAM grants it (None: the watched ones)
    quiet_after_settle_s: int = int(JoinPolicy.quiet_after_settle.total_seconds())
    verify_ceiling_s: int = DEFAULT_VERIFY_CEILING_S  # the longest a verification may wait, whatever the service
    approval_ttl_s: int = DEFAULT_APPROVAL_TTL_S
    verify_wait_s: int = DEFAULT_VERIFY_WAIT_S
    verify_max_polls: int = DEFAULT_VERIFY_MAX_POLLS
    remediation_lock_wait_s: int = DEFAULT_REMEDIATION_LOCK_WAIT_S
    remediation_lock_ttl_s: int = DEFAULT_REMEDIATION_LOCK_TTL_S

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RuntimeSettings:
        env = os.environ if env is None else env
        values = {
            "state_machine_arn": env.get("STATE_MACHINE_ARN", ""),
            "notification_topic_arn": env.get("NOTIFICATION_TOPIC_ARN", ""),
            "reports_bucket": env.get("REPORTS_BUCKET", ""),
            "approval_key_secret_arn": env.get("APPROVAL_KEY_SECRET_ARN", ""),
            "approval_base_url": env.get("APPROVAL_BASE_URL", "").rstrip("/"),
            "allowed_clusters": _names(env.get("ALLOWED_CLUSTERS", "")),
            "write_clusters": _names(env["WRITE_CLUSTERS"]) if "WRITE_CLUSTERS" in env else None,
        }
        for key in ("approval_ttl_s", "verify_wait_s", "verify_max_polls", "remediation_lock_wait_s",
                    "remediation_lock_ttl_s", "quiet_after_settle_s", "verify_ceiling_s"):
            if env.get(key.upper()):
                values[key] = int(env[key.upper()])
        return cls.model_validate(values)

    def writable_clusters(self) -> list[str] | None:
        """The clusters a plan may change: exactly IAM's write scope when the stack says it, else the watched ones
        (None: any, when every cluster is watched)."""
        if self.write_clusters is not None:
            return self.write_clusters
        return self.allowed_clusters or None

    def join_policy(self) -> JoinPolicy:
        # an open incident is abandoned once its approval wait and verification are long over
        verifying = max(self.verify_wait_s * self.verify_max_polls, self.verify_ceiling_s)
        stale = self.approval_ttl_s + APPROVAL_TIMEOUT_GRACE_S + verifying + 3600
        return JoinPolicy(quiet_after_settle=dt.timedelta(seconds=self.quiet_after_settle_s),
                          stale_after=dt.timedelta(seconds=stale))

    def workflow_knobs(self) -> dict[str, int]:
        """Carried in the execution input so the state machine's waits read them (…SecondsPath)."""
        return {"approval_ttl_s": self.approval_ttl_s,
                "approval_timeout_s": self.approval_ttl_s + APPROVAL_TIMEOUT_GRACE_S,
                "verify_wait_s": self.verify_wait_s, "verify_max_polls": self.verify_max_polls}


def _names(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]
