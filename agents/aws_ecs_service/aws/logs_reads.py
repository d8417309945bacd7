"""Read-only CloudWatch Logs calls: the last lines of one awslogs stream."""
from __future__ import annotations

import datetime as dt
from typing import Any


def awslogs_stream(container_definition: dict[str, Any], task_id: str) -> tuple[str, str] | None:
    """(group, stream) the awslogs driver writes this container's output to, or None.

    The driver names streams `PREFIX/CONTAINER/TASK_ID`; without a stream prefix the
    name is the Docker container id, which the ECS API does not tell us.
    """
    config = container_definition.get("logConfiguration") or {}
    options = config.get("options") or {}
    group, prefix = options.get("awslogs-group"), options.get("awslogs-stream-prefix")
    if config.get("logDriver") != "awslogs" or not group or not prefix:
        return None
    return group, f"{prefix}/{container_definition['name']}/{task_id}"


def recent_log_events(logs, group: str, stream: str, start: dt.datetime, end: dt.datetime,
                      limit: int) -> list[dict[str, Any]]:
    """The last `limit` events of the stream between start and end, oldest first.

    GetLogEvents has no filterPattern; reading from the tail is what we want anyway.
    """
    try:
        answer = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=False, limit=limit,
                                     startTime=_epoch_ms(start), endTime=_epoch_ms(end))
    except logs.exceptions.ResourceNotFoundException:
        return []  # a stream (or group) that was never written holds no lines: nothing failed to be read
    return answer["events"]


def _epoch_ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)
