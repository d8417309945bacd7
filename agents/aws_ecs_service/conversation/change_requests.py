"""Explicit change requests in a message: "scale prod/api to 10", "delete the service", "set MAX_HEAP=2g",
"bump memory to 2 GB", "restart it", "roll back to 46" -> a typed ChangeRequest.

A request is a clause that starts with its verb, after lead-ins such as "please", "can you", "I said": "my api keeps
restarting" describes a symptom and is no request. What the agent does with a request (a plan for exactly it, or a
refusal with the nearest allowed step) is conversation/requested_changes.py's.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Kind = Literal["scale", "revision", "restart", "stop-task", "delete", "task-definition"]

_LEAD_IN = re.compile(
    r"^(?:(?:ok(?:ay)?|so|then|now|and|well|also|alright|hey|yes|no|please|pls|just|i said|i told you(?: to)?|"
    r"i asked(?: you)?(?: to)?|i want(?: you)? to|i need(?: you)? to|we need to|can you|could you|would you|will you|"
    r"you should|go ahead and|let'?s|try to|time to)\b[\s,:]*)+", re.I)
_CLAUSES = re.compile(r"[.;!?](?:\s+|$)|,\s*|\s+(?:and then|then|and)\s+(?=[a-z])", re.I)
_NUMBER = r"(\d{1,4})"
_SCALE_TO = re.compile(r"^(?:scale|resize)\b.*?\bto\s+" + _NUMBER + r"\b", re.I)
_SCALE_BY = re.compile(r"^scale\b.*?\b(up|out|down|in)\b(?:\s+by\s+" + _NUMBER + r")?", re.I)
_COUNT_TO = re.compile(r"^(?:set|change|make|increase|raise|bump|decrease|lower|reduce|put)\b.*?"
                       r"\b(?:desired ?count|task count|number of tasks|replicas|instances|tasks|count)\b.*?"
                       r"\bto\s+" + _NUMBER + r"\b", re.I)
_RUN_N = re.compile(r"^(?:run|give it|use)\s+" + _NUMBER + r"\s+(?:tasks?|replicas|copies|instances)\b", re.I)
_ADD_N = re.compile(r"^(add|remove)\s+(\d{1,4}|one|a|an)\s+(?:more\s+)?(?:tasks?|replicas|instances)\b", re.I)
_TURN_OFF = re.compile(r"^(?:stop|shut(?: it)? down|turn off|switch off|disable)\b(?!.*\btasks?\b)", re.I)
_REVISION = re.compile(r"^(?:roll ?(?:it |this |that |them |the service |\S+/\S+ )?back|revert|go back|downgrade|"
                       r"deploy|switch|move)\b(?:.*?\bto\b)?.*?(?:revision\s+|rev\s+|[a-z][\w-]*:)?(\d{1,6})\b", re.I)
_ROLLBACK = re.compile(r"^(?:roll ?(?:it |this |that |them |the service |\S+/\S+ )?back|revert|go back|downgrade)\b",
                       re.I)
_STOP_TASK = re.compile(r"^(?:stop|kill|restart|replace|recycle)\s+(?:one|a|the|1|this|that)?\s*(?:of the\s+)?"
                        r"(?:tasks?|containers?)\b(?:\s+([0-9a-f]{8,32}))?", re.I)
_RESTART = re.compile(r"^(?:restart|reboot|bounce|recycle|redeploy|cycle|force (?:a )?new deployment|"
                      r"do a (?:forced? )?(?:new )?deployment)\b", re.I)
_DELETE = re.compile(r"^(?:delete|destroy|tear\s*down|remove|deregister|drop)\b(?:.*\b(cluster)\b)?", re.I)
_ENV = re.compile(r"\b([A-Z][A-Z0-9_]{2,})\s*=\s*(\S+)")
_RESOURCE = re.compile(r"^(?:set|change|update|bump|increase|raise|lower|reduce|decrease|double|give it|add|"
                       r"give)\b.*?\b(memory|ram|cpu|vcpus?|heap|image|tag|port|environment|env(?:ironment)? var\w*|"
                       r"variable)\b(?:.*?\bto\s+(\S+(?:\s*(?:gb|gib|mb|mib|vcpu|cpu))?))?", re.I)
_CONFIRM = re.compile(r"^\s*(?:(?:ok(?:ay)?|yes|yeah|yep|sure|please|then|now|just|i said)[\s,.!]*)*"
                      r"(?:do it|go ahead|proceed|make it so|apply it|go|yes)\b[\s,.!]*(?:now|please|already)?[\s.!]*$",
                      re.I)
_WORDS = {"one": 1, "a": 1, "an": 1}


@dataclass(frozen=True)
class ChangeRequest:
    kind: Kind
    said: str  # the person's words for it, as the reply quotes them
    count: int | None = None  # scale: the desiredCount asked for
    delta: int | None = None  # scale: "scale out", "add 2 tasks" (relative to the observed count)
    revision: int | None = None  # revision: the task definition revision asked for (None: the last healthy one)
    setting: str | None = None  # task-definition: what should change ("MAX_HEAP=2g", "memory to 2 GB")
    task: str | None = None  # stop-task: the task id named, if any
    what: str = "service"  # delete: "service" or "cluster"

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChangeRequest:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def parse(text: str) -> ChangeRequest | None:
    """The first change request the message makes, or None."""
    for clause in _CLAUSES.split(text):
        said = _LEAD_IN.sub("", clause.strip()).strip()
        if said and (request := _clause(said)):
            return request
    return None


def _clause(said: str) -> ChangeRequest | None:
    if m := _STOP_TASK.match(said):
        return ChangeRequest("stop-task", said, task=m.group(1))
    if m := _SCALE_TO.match(said) or _COUNT_TO.match(said) or _RUN_N.match(said):
        return ChangeRequest("scale", said, count=int(m.group(1)))
    if m := _SCALE_BY.match(said):
        step = int(m.group(2) or 1)
        return ChangeRequest("scale", said, delta=step if m.group(1).lower() in ("up", "out") else -step)
    if m := _ADD_N.match(said):
        step = _WORDS.get(m.group(2).lower()) or int(m.group(2))
        return ChangeRequest("scale", said, delta=step if m.group(1).lower() == "add" else -step)
    if m := _ENV.search(said):
        if re.match(r"^(?:set|change|update|add|put|make|use)\b", said, re.I):
            return ChangeRequest("task-definition", said, setting=f"{m.group(1)}={m.group(2)}")
    if m := _RESOURCE.match(said):
        return ChangeRequest("task-definition", said, setting=" ".join(
            p for p in (m.group(1).lower(), f"to {m.group(2)}" if m.group(2) else None) if p))
    if m := _REVISION.match(said):
        return ChangeRequest("revision", said, revision=int(m.group(1)))
    if _ROLLBACK.match(said):
        return ChangeRequest("revision", said)
    if _RESTART.match(said):
        return ChangeRequest("restart", said)
    if m := _DELETE.match(said):
        return ChangeRequest("delete", said, what="cluster" if m.group(1) else "service")
    if _TURN_OFF.match(said):
        return ChangeRequest("scale", said, count=0)
    return None


def is_confirmation(text: str) -> bool:
    """"do it", "go ahead", "yes, do it": a confirmation of what was asked before, naming nothing new."""
    return bool(_CONFIRM.match(text))


def in_context(text: str, previous: dict[str, Any]) -> dict[str, Any]:
    """The context keys a message sets: a new request, or "do it" repeating the request asked before (so a bare
    confirmation is never taken for "apply the diagnosis' plan")."""
    if request := parse(text):
        return {"intent": "change", "request": request.to_dict()}
    if is_confirmation(text) and previous.get("request"):
        return {"intent": "change", "request": previous["request"]}
    return {}


def kept(context: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The merged context without a request that no longer holds: another ask ("fix it", "what happened?") moves
    on from it, and it was about the service named then. A question in between ("why not?") keeps it."""
    moved = any(context.get(k) != previous.get(k) for k in ("cluster", "service", "region"))
    intent = context.get("intent")
    if context.get("request") and (intent not in ("change", "question") or (moved and intent != "change")):
        return {k: v for k, v in context.items() if k != "request"}
    return context
