"""Read-only CloudWatch calls: the service's CPU/memory utilisation and the alarms that point at it."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

UTILISATION_METRICS = ("CPUUtilization", "MemoryUtilization")
MAX_POINTS = 120  # per metric: enough to see a trend, small enough for a report or a prompt
_RULE_OPERAND = re.compile(r"\(\s*\"?([^\"()]+?)\"?\s*\)")


def metric_period(window: dt.timedelta) -> int:
    """A CloudWatch period (multiple of 60 s) giving at most MAX_POINTS points over the window."""
    minutes = max(1, -(-int(window.total_seconds()) // (60 * MAX_POINTS)))
    return minutes * 60


def service_utilisation(cloudwatch, cluster: str, service: str, start: dt.datetime,
                        end: dt.datetime) -> dict[str, list[tuple[dt.datetime, float]]]:
    """AWS/ECS CPUUtilization and MemoryUtilization (Average) of the service, in one GetMetricData call."""
    dimensions = [{"Name": "ClusterName", "Value": cluster}, {"Name": "ServiceName", "Value": service}]
    period = metric_period(end - start)
    queries = [{"Id": f"m{i}", "Label": name, "ReturnData": True,
                "MetricStat": {"Metric": {"Namespace": "AWS/ECS", "MetricName": name, "Dimensions": dimensions},
                               "Period": period, "Stat": "Average"}}
               for i, name in enumerate(UTILISATION_METRICS)]
    answer = cloudwatch.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                        ScanBy="TimestampAscending")
    series: dict[str, list[tuple[dt.datetime, float]]] = {name: [] for name in UTILISATION_METRICS}
    for result in answer["MetricDataResults"]:
        name = UTILISATION_METRICS[int(result["Id"][1:])]
        series[name] = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False))
    return series


def alarms_in_alarm(cloudwatch) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(metric alarms, composite alarms) currently in ALARM state."""
    metric: list[dict[str, Any]] = []
    composite: list[dict[str, Any]] = []
    paginator = cloudwatch.get_paginator("describe_alarms")
    for page in paginator.paginate(StateValue="ALARM", AlarmTypes=["MetricAlarm", "CompositeAlarm"]):
        metric += page.get("MetricAlarms", [])
        composite += page.get("CompositeAlarms", [])
    return metric, composite


def alarms_for_service(metric_alarms: list[dict[str, Any]], composite_alarms: list[dict[str, Any]],
                       cluster: str, service: str, alarm_names: set[str]) -> list[dict[str, Any]]:
    """The alarms that point at the service: by dimensions (plain or metric math), by name
    (the service's deployment alarms), or composites built on either."""
    kept = [a for a in metric_alarms
            if a.get("AlarmName") in alarm_names or _metric_alarm_points_at(a, cluster, service)]
    kept_names = {a["AlarmName"] for a in kept} | alarm_names
    for alarm in composite_alarms:
        operands = {op.rsplit(":alarm:", 1)[-1] for op in _RULE_OPERAND.findall(alarm.get("AlarmRule", ""))}
        if alarm.get("AlarmName") in alarm_names or operands & kept_names:
            kept.append(alarm)
    return kept


def _metric_alarm_points_at(alarm: dict[str, Any], cluster: str, service: str) -> bool:
    dimension_sets = [alarm.get("Dimensions") or []]
    for query in alarm.get("Metrics") or []:
        dimension_sets.append(((query.get("MetricStat") or {}).get("Metric") or {}).get("Dimensions") or [])
    for dimensions in dimension_sets:
        values = {d.get("Name"): d.get("Value") for d in dimensions}
        if values.get("ServiceName") == service and values.get("ClusterName") in (None, cluster):
            return True
    return False
