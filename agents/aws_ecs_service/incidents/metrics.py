"""Business metrics of the runtime (CloudWatch EMF through Powertools Metrics).

TriageStarted, RootCauseFound (by category), ApprovalRequested/Approved/Rejected/Expired,
RemediationSucceeded/Failed, TimeToDiagnosis. Dimensioned metrics go out as single metrics so
their dimension does not spill onto the others of the same invocation.
"""
from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

DEFAULT_NAMESPACE = "EcsIncidentAgent"


def namespace() -> str:
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or DEFAULT_NAMESPACE


class IncidentMetrics:
    def __init__(self, metrics: Metrics | None = None):
        self.metrics = metrics or Metrics(namespace=namespace())

    def count(self, name: str, **dimensions: str) -> None:
        if not dimensions:
            self.metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
            return
        with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=namespace()) as metric:
            for key, value in dimensions.items():
                metric.add_dimension(name=key, value=value)

    def milliseconds(self, name: str, value: float) -> None:
        self.metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=max(0.0, value))

    def flush(self) -> Any:
        return self.metrics.flush_metrics()
