"""Read-only questions ("show me the last errors of api") answered without a model, from the read tools
(operations/read_tools.py: the catalog the model's tools and the MCP server come from too).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .read_tools import ReadTools

_STATUS_WORDS = re.compile(r"\b(status|running|desired|deploy\w*|tasks?|revision|events?)\b", re.I)
_ERROR_WORDS = re.compile(r"\b(errors?|logs?|exceptions?|stack ?traces?|crash\w*)\b", re.I)


def offline_answer(question: str, context: dict[str, Any], triage: dict[str, Any] | None,
                   tools: Callable[[], ReadTools]) -> str:
    """The question answered without a model: the read tool the words ask for, else the last findings."""
    cluster, service = context.get("cluster"), context.get("service")
    if cluster and service and _ERROR_WORDS.search(question):
        return f"The newest error lines of {cluster}/{service}:\n{tools().recent_errors(cluster, service)}"
    if cluster and service and _STATUS_WORDS.search(question):
        return tools().service_status(cluster, service)
    if triage:
        rc = triage["root_cause"]
        return (f"From the last triage of {triage['target']['cluster']}/{triage['target']['service']}: "
                f"{rc['category']} — {rc['summary']}")
    return ("I answer questions about an ECS service's state, errors and deployments. Name the service (for "
            "example prod/api), or ask me to diagnose it.")
