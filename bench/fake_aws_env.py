"""The process environment of a bench that plays AWS in-process (moto, fakeaws): no real credentials, profile or
metadata lookup can leak in, and Powertools stays quiet so its logging is not what gets timed."""
from __future__ import annotations

import os


def use_fake_aws(region: str) -> None:
    for key in [k for k in os.environ if k.startswith("AWS_")]:
        del os.environ[key]
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": region, "AWS_EC2_METADATA_DISABLED": "true",
                       "POWERTOOLS_LOG_LEVEL": "WARNING", "POWERTOOLS_METRICS_DISABLED": "true"})
