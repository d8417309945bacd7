"""The analyzers, one per evidence source, registered in precedence order: within a tier, a cause a source
earlier here proposes wins over one a later source proposes (diagnosis/decision.py)."""
from __future__ import annotations

from .base import Analyzer
from .deployments import DeploymentAnalyzer
from .events import EventAnalyzer
from .images import ImageAnalyzer
from .load_balancer import LoadBalancerAnalyzer
from .logs import LogAnalyzer
from .metrics import MetricAnalyzer
from .network import NetworkAnalyzer
from .tasks import TaskAnalyzer

ANALYZERS: tuple[Analyzer, ...] = (
    TaskAnalyzer(),
    EventAnalyzer(),
    DeploymentAnalyzer(),
    LoadBalancerAnalyzer(),
    ImageAnalyzer(),
    LogAnalyzer(),
    MetricAnalyzer(),
    NetworkAnalyzer(),
)
