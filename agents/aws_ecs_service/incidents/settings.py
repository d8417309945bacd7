"""What the serverless functions read from their environment (set by the CDK stack).

Agent behaviour (model, allowWrite, sensitive data) stays in ECSDeepAgentConfig; this holds
only the wiring between the functions and the knobs of the workflow's waits.
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel

DEFAULT_APPROVAL_TTL_S = 24 * 3600
DEFAULT_VERIFY_WAIT_S = 30
DEFAULT_VERIFY_MAX_POLLS = 20  # with the wait: about 10 minutes of verification at most
APPROVAL_TIMEOUT_GRACE_S = 60  # the state's hard timeout comes after the link's expiry
DEFAULT_REMEDIATION_LOCK_WAIT_S = 120  # a second remediation of one service waits this long, then is refused
DEFAULT_REMEDIATION_LOCK_TTL_S = 330  # the remediate function's 300 s timeout and a margin: a dead holder's lease


class RuntimeSettings(BaseModel):
    state_machine_arn: str = ""
    notification_topic_arn: str = ""
    reports_bucket: str = ""
    approval_key_secret_arn: str = ""
    approval_base_url: str = ""
    allowed_clusters: list[str] = []
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
            "allowed_clusters": [c.strip() for c in env.get("ALLOWED_CLUSTERS", "").split(",") if c.strip()],
        }
        for key in ("approval_ttl_s", "verify_wait_s", "verify_max_polls", "remediation_lock_wait_s",
                    "remediation_lock_ttl_s"):
            if env.get(key.upper()):
                values[key] = int(env[key.upper()])
        return cls.model_validate(values)

    def workflow_knobs(self) -> dict[str, int]:
        """Carried in the execution input so the state machine's waits read them (…SecondsPath)."""
        return {"approval_ttl_s": self.approval_ttl_s,
                "approval_timeout_s": self.approval_ttl_s + APPROVAL_TIMEOUT_GRACE_S,
                "verify_wait_s": self.verify_wait_s, "verify_max_polls": self.verify_max_polls}
