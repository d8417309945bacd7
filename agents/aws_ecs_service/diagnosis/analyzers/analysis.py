"""The facts the analyzers share, each computed once from the view when first asked for.

The analyzers take an Analysis and ask it for what another source found (the memory metrics an exit 137 is
judged by, the failing deployments the stopped tasks are scoped to); this module computes those facts with the
analyzers' own functions, and the analyzers name it only as a type.
"""
from __future__ import annotations

from functools import cached_property

from ..view import View
from .base import Signal
from .deployments import Deployments, failing_deployments
from .events import event_signals
from .images import ImageCheck, image_checks
from .metrics import alarm_signals, metric_signals
from .network import network_signals
from .tasks import TaskVerdict, task_verdicts


class Analysis:
    """The view plus the facts the analyzers derive from it, each computed once when first asked for."""

    def __init__(self, view: View):
        self.view = view

    @cached_property
    def verdicts(self) -> list[TaskVerdict]:
        return task_verdicts(self)

    @cached_property
    def failures(self) -> list[TaskVerdict]:
        return [v for v in self.verdicts if v.failure]

    @cached_property
    def event_signals(self) -> list[Signal]:
        return event_signals(self.view)

    @cached_property
    def deployments(self) -> Deployments:
        return failing_deployments(self.view, self.event_signals)

    @cached_property
    def metric_signals(self) -> list[Signal]:
        return metric_signals(self.view)

    @cached_property
    def alarms(self) -> tuple[list[Signal], list[str]]:
        """(signals of CPU/memory alarms in ALARM, lines of the other alarms in ALARM)."""
        return alarm_signals(self.view)

    @cached_property
    def image_checks(self) -> list[ImageCheck]:
        return image_checks(self.view)

    @cached_property
    def network_signals(self) -> list[Signal]:
        return network_signals(self.view)

    @property
    def alarm_signals(self) -> list[Signal]:
        return self.alarms[0]

    @property
    def other_alarms(self) -> list[str]:
        return self.alarms[1]
