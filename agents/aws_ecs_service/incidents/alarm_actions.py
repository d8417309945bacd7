"""The actions of an alarm (DescribeAlarms), asked once per alarm per container: the intake tells a step
scaling alarm (whose only actions are scaling policies) from an incident alarm with them."""
from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

log = logging.getLogger(__name__)


class AlarmActions:
    def __init__(self, cloudwatch: Any, account: str, capacity: int = 1000):
        self.cloudwatch, self.account, self.capacity = cloudwatch, account, capacity
        self._known: dict[tuple[str, str], list[str] | None] = {}

    def __call__(self, account: str, region: str, alarm_name: str) -> list[str] | None:
        """Its actions; None when it cannot be read here (another account or region, or a failed read)."""
        if account != self.account or region != self.cloudwatch.meta.region_name:
            return None
        key = (region, alarm_name)
        if key not in self._known:
            if len(self._known) >= self.capacity:
                self._known.pop(next(iter(self._known)))
            self._known[key] = self._read(alarm_name)
        return self._known[key]

    def _read(self, alarm_name: str) -> list[str] | None:
        try:
            answer = self.cloudwatch.describe_alarms(AlarmNames=[alarm_name])
        except (ClientError, BotoCoreError) as exc:
            log.warning("could not read the actions of alarm %s: %s", alarm_name, exc)
            return None
        alarms = answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
        return list(alarms[0].get("AlarmActions") or []) if alarms else None
