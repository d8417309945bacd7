"""Where reports go: a local folder by default, S3 (`incidents/<incident-id>/<file>`, encrypted) when configured.

    store = ReportStore.from_config(config, local_dir="out", ctx=ctx)
    location = store.write("inc-20250101-api", "triage_report.md", text)

Locally the files land flat in the folder (as `ecs-agent triage --out` does); in S3 every
object is written with server-side encryption: SSE-KMS when a key id is given, else SSE-S3.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

KEY_PREFIX = "incidents"
_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,127}$")


class ReportStoreError(ValueError):
    """An incident id or report name that cannot be used as a file name or S3 key part."""


def _check(kind: str, value: str, pattern: re.Pattern) -> str:
    # Both parts end up in a path or key: refuse traversal and odd characters outright.
    if not pattern.match(value or "") or ".." in value:
        raise ReportStoreError(f"{kind} {value!r}: letters, digits, '.', '_' and '-' only")
    return value


class ReportStore:
    def __init__(self, local_dir: str | os.PathLike | None = None, bucket: str | None = None,
                 kms_key_id: str | None = None, s3_client: Any = None):
        if bool(bucket) == bool(local_dir):
            raise ValueError("give exactly one of local_dir or bucket")
        if bucket and s3_client is None:
            raise ValueError("an S3 client is needed to write to a bucket")
        self.local_dir = Path(local_dir) if local_dir else None
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self._s3 = s3_client

    @classmethod
    def from_config(cls, config: Any, local_dir: str | os.PathLike, ctx: Any = None) -> ReportStore:
        """S3 when `config.reports_bucket` is set (the client comes from `ctx`, the key from
        `config.reports_kms_key_id`), else `local_dir`."""
        bucket = getattr(config, "reports_bucket", None)
        if not bucket:
            return cls(local_dir=local_dir)
        if ctx is None:
            from ..aws.session import AwsContext

            ctx = AwsContext(region=getattr(config, "aws_region", None), profile=getattr(config, "aws_profile", None))
        return cls(bucket=bucket, kms_key_id=getattr(config, "reports_kms_key_id", None) or None,
                   s3_client=ctx.client("s3"))

    def prefix(self, incident_id: str) -> str:
        return f"{KEY_PREFIX}/{_check('incident id', incident_id, _SAFE_ID)}/"

    def key(self, incident_id: str, name: str) -> str:
        return self.prefix(incident_id) + _check("report name", name, _SAFE_NAME)

    def location(self, incident_id: str, name: str) -> str:
        """Where `write` puts a report (a file path or an s3:// URL); the incident's folder when `name` is empty."""
        if self.bucket:
            return f"s3://{self.bucket}/{self.key(incident_id, name) if name else self.prefix(incident_id)}"
        assert self.local_dir is not None
        return str(self.local_dir / name) if name else str(self.local_dir)

    def write(self, incident_id: str, name: str, text: str) -> str:
        """Store one report; returns where it is (a file path or an s3:// URL)."""
        key = self.key(incident_id, name)
        if self.bucket:
            extra = ({"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id} if self.kms_key_id
                     else {"ServerSideEncryption": "AES256"})
            self._s3.put_object(Bucket=self.bucket, Key=key, Body=text.encode("utf-8"),
                                ContentType=_content_type(name), **extra)
            return f"s3://{self.bucket}/{key}"
        assert self.local_dir is not None
        self.local_dir.mkdir(parents=True, exist_ok=True)
        final = self.local_dir / name
        partial = self.local_dir / f".{name}.partial"
        # A reader never sees half a report: write aside, then rename.
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, final)
        return str(final)

    def write_all(self, incident_id: str, files: dict[str, str]) -> list[str]:
        return [self.write(incident_id, name, text) for name, text in files.items()]

    def presigned_links(self, incident_id: str, expires_s: int) -> dict[str, str]:
        """Report name -> a presigned GET URL, for every object the incident has in the bucket."""
        if not self.bucket:
            raise ValueError("presigned links need a bucket")
        prefix = self.prefix(incident_id)
        objects = self._s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix).get("Contents", [])
        return {o["Key"][len(prefix):]: self._s3.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": o["Key"]}, ExpiresIn=expires_s) for o in objects}


def _content_type(name: str) -> str:
    if name.endswith(".md"):
        return "text/markdown; charset=utf-8"
    if name.endswith(".json"):
        return "application/json"
    return "text/plain; charset=utf-8"
