"""Which alarms point at a service (composite alarms here: moto does not serve them)."""
from __future__ import annotations

from agents.aws_ecs_service.aws.cloudwatch_reads import alarms_for_service, metric_period

SERVICE_DIMS = [{"Name": "ClusterName", "Value": "prod"}, {"Name": "ServiceName", "Value": "api"}]


def _metric(name: str, dimensions: list[dict]) -> dict:
    return {"AlarmName": name, "Dimensions": dimensions}


def test_dimensions_name_the_service_in_its_cluster_or_alone():
    alarms = [_metric("both", SERVICE_DIMS), _metric("service-only", [{"Name": "ServiceName", "Value": "api"}]),
              _metric("other-cluster", [{"Name": "ClusterName", "Value": "dev"}, {"Name": "ServiceName", "Value": "api"}]),
              _metric("cluster-only", [{"Name": "ClusterName", "Value": "prod"}])]
    kept = alarms_for_service(alarms, [], "prod", "api", set())
    assert [a["AlarmName"] for a in kept] == ["both", "service-only"]


def test_composites_built_on_kept_or_named_alarms():
    metric = [_metric("api-memory-high", SERVICE_DIMS), _metric("web-latency", [])]
    composite = [{"AlarmName": "api-health", "AlarmRule": 'ALARM("api-memory-high") OR ALARM(web-latency)'},
                 {"AlarmName": "by-arn", "AlarmRule": "ALARM(arn:aws:cloudwatch:us-east-1:1:alarm:api-memory-high)"},
                 {"AlarmName": "web-health", "AlarmRule": 'ALARM("web-latency")'},
                 {"AlarmName": "api-memory", "AlarmRule": 'ALARM("api-memory-high-2")'}]
    kept = alarms_for_service(metric, composite, "prod", "api", set())
    assert [a["AlarmName"] for a in kept] == ["api-memory-high", "api-health", "by-arn"]


def test_metric_period_keeps_points_bounded():
    import datetime as dt

    assert metric_period(dt.timedelta(hours=2)) == 60
    assert metric_period(dt.timedelta(days=14)) == 10080 and 14 * 86400 / 10080 <= 120
