"""Powertools parser models for the four EventBridge event kinds that can open an incident.

Shapes: ../shared/reference/ecs-failures.md §4. ECS adds properties at any time, so every
model ignores unknown keys (pydantic's default) and requires only what intake reads.
"""
from __future__ import annotations

import json
from typing import Any, Literal

from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from pydantic import BaseModel, ConfigDict, Field, field_validator

DEPLOYMENT = "ECS Deployment State Change"
SERVICE_ACTION = "ECS Service Action"
TASK = "ECS Task State Change"
ALARM = "CloudWatch Alarm State Change"


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class DeploymentDetail(_Detail):
    event_type: str = Field(alias="eventType")
    event_name: str = Field(alias="eventName")
    deployment_id: str | None = Field(default=None, alias="deploymentId")
    reason: str | None = None


class ServiceActionDetail(_Detail):
    event_type: str = Field(alias="eventType")
    event_name: str = Field(alias="eventName")
    cluster_arn: str | None = Field(default=None, alias="clusterArn")
    reason: str | None = None


class TaskContainer(_Detail):
    name: str | None = None
    exit_code: int | None = Field(default=None, alias="exitCode")
    reason: str | None = None


class TaskDetail(_Detail):
    task_arn: str = Field(alias="taskArn")
    cluster_arn: str | None = Field(default=None, alias="clusterArn")
    group: str | None = None
    last_status: str | None = Field(default=None, alias="lastStatus")
    desired_status: str | None = Field(default=None, alias="desiredStatus")
    stop_code: str | None = Field(default=None, alias="stopCode")
    stopped_reason: str | None = Field(default=None, alias="stoppedReason")
    version: int | None = None
    containers: list[TaskContainer] = Field(default_factory=list)


class MetricRef(_Detail):
    namespace: str | None = None
    name: str | None = None
    dimensions: dict[str, str] = Field(default_factory=dict)  # an object map in EventBridge (a list in SNS)


class MetricStat(_Detail):
    metric: MetricRef


class AlarmMetric(_Detail):
    id: str | None = None
    expression: str | None = None
    metric_stat: MetricStat | None = Field(default=None, alias="metricStat")


class AlarmConfiguration(_Detail):
    description: str | None = None
    metrics: list[AlarmMetric] = Field(default_factory=list)
    alarm_rule: str | None = Field(default=None, alias="alarmRule")


class AlarmState(_Detail):
    value: str
    reason: str | None = None
    reason_data: dict[str, Any] = Field(default_factory=dict, alias="reasonData")

    @field_validator("reason_data", mode="before")
    @classmethod
    def _json_string(cls, value: Any) -> Any:
        # reasonData is a JSON *string* inside the event.
        if isinstance(value, str):
            try:
                return json.loads(value) if value else {}
            except ValueError:
                return {}
        return value


class AlarmDetail(_Detail):
    alarm_name: str = Field(alias="alarmName")
    state: AlarmState
    configuration: AlarmConfiguration = Field(default_factory=AlarmConfiguration)
    alarm_tags: dict[str, str] = Field(default_factory=dict, alias="alarmTags")


class DeploymentEvent(EventBridgeModel):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Deployment State Change"] = Field(alias="detail-type")
    detail: DeploymentDetail


class ServiceActionEvent(EventBridgeModel):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Service Action"] = Field(alias="detail-type")
    detail: ServiceActionDetail


class TaskStateEvent(EventBridgeModel):
    source: Literal["aws.ecs"]
    detail_type: Literal["ECS Task State Change"] = Field(alias="detail-type")
    detail: TaskDetail


class AlarmEvent(EventBridgeModel):
    source: Literal["aws.cloudwatch"]
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    detail: AlarmDetail


MODELS: dict[str, type[EventBridgeModel]] = {
    DEPLOYMENT: DeploymentEvent,
    SERVICE_ACTION: ServiceActionEvent,
    TASK: TaskStateEvent,
    ALARM: AlarmEvent,
}
