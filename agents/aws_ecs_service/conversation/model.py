"""The model factory and the few things the agent asks a model: Bedrock Claude, or `offline` (no model).

Rules find the cause, the model explains it. A model gets the deterministic findings and a
few redacted evidence lines (never raw logs), and it never holds a write tool: the only tools
bound here read. Every call is allowed to fail: callers get `ModelUnavailable` with a short
reason and fall back to deterministic wording.

What is said to a model, and how untrusted text is quoted, is in prompts.py. Budget per
automatic triage: at most 2 calls (context extraction, explanation) and about 6,000 input tokens.
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..config import ECSDeepAgentConfig
from . import prompts
from .turn_budget import TurnDeadline, within_turn

log = logging.getLogger(__name__)

ENDPOINT_ENV = "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"
MODEL_TIMEOUT_S = 30
MAX_OUTPUT_TOKENS = 700
MAX_TOOL_ROUNDS = 3
UNAVAILABLE_LINE = "(The model's explanation is unavailable right now: {reason}. The findings above are the " \
                   "deterministic result.)"



class ModelUnavailable(Exception):
    """The model could not answer (throttled, timed out, unreachable, bad answer); `str()` is a short reason."""


def make_chat_model(config: ECSDeepAgentConfig, timeout_s: float = MODEL_TIMEOUT_S):
    """ChatBedrockConverse for `config.model_name` (model or inference-profile id); None when offline."""
    if config.offline:
        return None
    from botocore.config import Config
    from langchain_aws import ChatBedrockConverse

    model_id = config.model_name.strip()
    kwargs: dict[str, Any] = {}
    if endpoint := os.environ.get(ENDPOINT_ENV):
        kwargs["endpoint_url"] = endpoint
    if config.aws_profile:
        kwargs["credentials_profile_name"] = config.aws_profile
    if "anthropic" in model_id:  # inference-profile ARNs do not name a provider langchain-aws can infer
        kwargs["provider"] = "anthropic"
    # One retry at most: a throttled model must not hold the conversation; the user gets the findings anyway.
    botocore_config = Config(retries={"mode": "standard", "total_max_attempts": 2}, connect_timeout=5,
                             read_timeout=timeout_s)
    return ChatBedrockConverse(model=model_id, region_name=config.aws_region or os.environ.get("AWS_REGION")
                               or "us-east-1", config=botocore_config, max_tokens=MAX_OUTPUT_TOKENS,
                               temperature=0.2, **kwargs)


def unavailable_line(reason: str) -> str:
    return UNAVAILABLE_LINE.format(reason=reason)


def _reason(exc: Exception) -> str:
    if isinstance(exc, TurnDeadline):
        return f"turn deadline: {exc}"
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("Error", {}).get("Code"):
        return str(response["Error"]["Code"])
    return type(exc).__name__


def _call(what: str, fn: Callable[[], Any]) -> Any:
    try:
        return within_turn(fn)
    except Exception as exc:  # noqa: BLE001 - any model failure degrades to deterministic text
        reason = _reason(exc)
        log.warning("model call for %s failed: %s", what, reason)
        raise ModelUnavailable(reason) from exc


def _text(message: Any) -> str:
    content = getattr(message, "content", message)
    if isinstance(content, list):
        content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content).strip()


# ---- the calls -----------------------------------------------------------------------------------------

class ContextExtraction(BaseModel):
    """What the user's message says about the incident. Leave a field empty when the message does not say it."""

    cluster: str | None = Field(default=None, description="ECS cluster name, only if stated or clearly implied")
    service: str | None = Field(default=None, description="ECS service name, only if stated or clearly implied")
    region: str | None = Field(default=None, description="AWS region id such as us-east-1")
    environment: Literal["production", "staging", "development", "test"] | None = None
    intent: Literal["diagnose", "fix", "monitor", "report", "question"] | None = None
    symptoms: list[str] = Field(default_factory=list, description="short symptom phrases in the user's words")
    risk: Literal["low", "medium", "high"] | None = Field(default=None, description="risk tolerance stated")
    deadline: str | None = Field(default=None, description="a stated deadline, e.g. 'demo at 2 PM'")
    tone: Literal["technical", "business"] | None = None


def refine_context(model: Any, text: str, draft: dict[str, Any]) -> dict[str, Any]:
    """One structured-output call; returns only the fields the model filled in."""
    answer = _call("context extraction", lambda: model.with_structured_output(ContextExtraction).invoke(
        [("system", prompts.SYSTEM_PROMPT), ("human", prompts.context_prompt(text, draft))]))
    if not isinstance(answer, ContextExtraction):
        raise ModelUnavailable("no structured answer")
    return answer.model_dump(exclude_none=True, exclude_defaults=True)


def explain_findings(model: Any, triage: dict[str, Any], preferences: dict[str, Any],
                     plan_titles: Sequence[str] = ()) -> str:
    """One call: the findings explained in the user's tone. Raises ModelUnavailable."""
    prompt = prompts.explanation_prompt(triage, preferences, plan_titles)
    answer = _call("explanation", lambda: model.invoke([("system", prompts.SYSTEM_PROMPT), ("human", prompt)]))
    text = _text(answer)
    if not text:
        raise ModelUnavailable("empty answer")
    return text


def answer_with_tools(model: Any, question: str, context: dict[str, Any], tools: Sequence[Any],
                      triage: dict[str, Any] | None = None) -> str:
    """A read-only question answered with read tools (a short tool loop). Raises ModelUnavailable."""
    from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage

    by_name = {t.name: t for t in tools}
    messages: list[Any] = [SystemMessage(prompts.QUESTION_SYSTEM_PROMPT),
                           HumanMessage(prompts.question_prompt(question, context, triage))]
    bound = model.bind_tools(list(tools))
    for _ in range(MAX_TOOL_ROUNDS):
        reply = _call("question", lambda: bound.invoke(messages))
        messages.append(reply)
        calls = getattr(reply, "tool_calls", None) or []
        if not calls:
            return _text(reply)
        for call in calls:
            tool = by_name.get(call["name"])
            output = tool.invoke(call["args"]) if tool else f"unknown tool {call['name']}"
            messages.append(ToolMessage(content=prompts.quoted_evidence(str(output).splitlines()[:40]),
                                        tool_call_id=call["id"]))
    raise ModelUnavailable("too many tool rounds")
