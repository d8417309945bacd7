"""Free text -> incident context: target, intent, symptoms (with likely root-cause categories), preferences.

Deterministic extraction works without a model; with one, a structured-output call refines
it (llm.refine_context). Names the text gives loosely ("my API in production") are resolved
against the services discovery lists (discovery/matching.py decides which fit); the context then
keeps the chosen service's record id and credential id so the operations run in its account and
region. When more than one fits, the agent asks one short question instead of guessing. A follow-up in the same thread ("it
started after yesterday's 3 PM deploy") refines the context it already has.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from ..diagnosis.taxonomy import symptom_table
from ..discovery.interface import ServiceRecord
from ..discovery.matching import STRONG_SCORE, canonical_env, cluster_env, match_services, services_mentioned

INTENTS = ("diagnose", "fix", "monitor", "report", "question")
MIN_WINDOW = dt.timedelta(minutes=30)
MAX_WINDOW = dt.timedelta(days=14)
START_MARGIN = dt.timedelta(minutes=15)  # look a little before the time the user remembers
MAX_CANDIDATES_SHOWN = 5

# symptom words -> (label, likely taxonomy categories), read from the cause records; first match per row
SYMPTOMS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(pattern, re.I), label, causes) for pattern, label, causes in symptom_table())

_FIX = re.compile(r"\b(fix|repair|roll(?: it| that| this| them)? ?back|revert|restart|scale (up|out)|remediate|apply|go ahead|do it|mitigate"
                  r"|restore)\b", re.I)
_REPORT = re.compile(r"\b(report|summary|summari[sz]e|post-?mortem|write[- ]?up)\b", re.I)
_MONITOR = re.compile(r"\b(monitor|watch|keep an eye|alert me|notify me)\b", re.I)
_ASK = re.compile(r"^\s*(show|list|give me|tell me|what (are|were|is) the|how many|which|when did)\b", re.I)
_TROUBLE = re.compile(r"\b(issues?|problems?|broken|down|fail\w*|errors?|slow\w*|latency|crash\w*|5\d\ds?|5xxs?|"
                      r"time ?outs?|outage|unhealthy|wrong|investigate|diagnose|triage|check|look (at|into)|"
                      r"having trouble)\b", re.I)
_REGION = re.compile(r"\b(?:us|eu|ap|sa|ca|me|af|il|mx)-(?:north|south|east|west|central|northeast|southeast|"
                     r"northwest|southwest)-\d\b", re.I)
_RISK_LOW = re.compile(r"\b(low[- ]risk|safe(st|ly)?|careful(ly)?|conservative|cautious|don'?t break|no risk|"
                       r"minimal risk)\b", re.I)
_RISK_HIGH = re.compile(r"\b(asap|quick(ly|est)?|fast(est)?|whatever it takes|aggressive|right now|immediately)\b",
                        re.I)
_BUSINESS = re.compile(r"\b(business|non-?technical|for (my|the|our) (boss|manager|ceo|execs?|executives|"
                       r"stakeholders|customers)|executive|plain (english|language)|simple terms|simply)\b", re.I)
_TECHNICAL = re.compile(r"\b(technical( details)?|in depth|for engineers|deep dive|all the details)\b", re.I)
_CLOCK = r"(\d{1,2})(?::(\d{2}))?\s*([ap])\.?m\.?\b"
_DEADLINE_AT = re.compile(r"\b((?:demo|meeting|call|launch|release|presentation|deadline|review)\s+(?:is\s+)?"
                          r"(?:at|by)\s+" + _CLOCK + r"|(?:by|before)\s+" + _CLOCK + ")", re.I)
_DEADLINE_IN = re.compile(r"\b(?:in|within|next)\s+(\d+)\s*(minutes?|mins?|m|hours?|hrs?|h)\b", re.I)
_STARTED_AT = re.compile(r"\b(?:started|since|after|began|from)\b[^.?!]*?\b(yesterday|today|this morning)?'?s?\s*"
                         r"(?:at\s+)?" + _CLOCK, re.I)
_STARTED_AGO = re.compile(r"\b(\d+)\s*(minutes?|mins?|hours?|hrs?|h|days?)\s+ago\b", re.I)
_SLASH_TARGET = re.compile(r"\b([a-z][a-z0-9_-]{1,254})/([a-z][a-z0-9_-]{1,254})\b", re.I)
# "cluster X" is tried before "X cluster" ("roll back cluster prod": prod, not back)
_CLUSTER = (re.compile(r"\bcluster\s+(?:called\s+|named\s+)?([a-z0-9][\w-]*)", re.I),
            re.compile(r"\b([a-z0-9][\w-]*)\s+cluster\b", re.I))
_SERVICE = (re.compile(r"\bservice\s+(?:called\s+|named\s+)?([a-z0-9][\w-]*)", re.I),
            re.compile(r"\b([a-z0-9][\w-]*)\s+service\b", re.I))
_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*", re.I)
_ORDINALS = {"first": 0, "1": 0, "one": 0, "second": 1, "2": 1, "two": 1, "third": 2, "3": 2, "three": 2,
             "fourth": 3, "4": 3, "fifth": 4, "5": 4}
_YES = {"yes", "y", "yeah", "yep", "sure", "correct", "right", "that", "one", "it", "is", "exactly", "please"}
# words that are never a cluster or service name
_NOT_NAMES = {"the", "a", "an", "my", "our", "your", "this", "that", "is", "has", "was", "are", "it", "its", "in",
              "on", "of", "for", "and", "or", "to", "with", "which", "what", "ecs", "aws", "whole", "entire", "same",
              "service", "cluster", "keeps", "seems", "looks", "been", "having", "started", "be", "now", "back",
              "diagnose", "check", "fix", "restart", "triage", "investigate", "scale", "whose"}
# what the context keeps of the listed service it was resolved to (ids only, never a secret)
RESOLVED_KEYS = ("service_id", "target", "account_id")


def _name(value: str | None, env_ok: bool = False) -> str | None:
    """A plausible resource name; environment words only where the text says "cluster" next to them."""
    if not value or value.lower() in _NOT_NAMES or (canonical_env(value) and not env_ok):
        return None
    return value


def _first_name(patterns: tuple[re.Pattern[str], ...], text: str, env_ok: bool = False) -> str | None:
    for pattern in patterns:
        for m in pattern.finditer(text):
            if name := _name(m.group(1), env_ok):
                return name
    return None


def _clock_time(hour: str, minute: str | None, half: str, day: str | None, now: dt.datetime) -> dt.datetime:
    h = int(hour) % 12 + (12 if half.lower() == "p" else 0)
    moment = now.replace(hour=h, minute=int(minute or 0), second=0, microsecond=0)
    if (day or "").lower() == "yesterday":
        moment -= dt.timedelta(days=1)
    return moment


def _unit_seconds(unit: str) -> int:
    u = unit.lower()
    return 86400 if u.startswith("d") else 3600 if u.startswith("h") else 60


def _symptoms(text: str) -> tuple[list[str], list[str]]:
    labels: list[str] = []
    categories: list[str] = []
    for pattern, label, cats in SYMPTOMS:
        if pattern.search(text):
            labels.append(label)
            categories += [c for c in cats if c not in categories]
    return labels, categories


def _intent(text: str) -> str | None:
    if _FIX.search(text):
        return "fix"
    if _REPORT.search(text):
        return "report"
    if _MONITOR.search(text):
        return "monitor"
    if _ASK.search(text):
        return "question"
    if _TROUBLE.search(text):
        return "diagnose"
    if text.strip().endswith("?"):
        return "question"
    return None


def _preferences(text: str, now: dt.datetime) -> dict[str, Any]:
    prefs: dict[str, Any] = {}
    if _RISK_LOW.search(text):
        prefs["risk"] = "low"
    elif _RISK_HIGH.search(text):
        prefs["risk"] = "high"
    if _BUSINESS.search(text):
        prefs["tone"] = "business"
    elif _TECHNICAL.search(text):
        prefs["tone"] = "technical"
    if m := _DEADLINE_AT.search(text):
        groups = m.groups()
        hour, minute, half = (groups[1:4] if groups[1] else groups[4:7])
        at = _clock_time(hour, minute, half, None, now)
        prefs["deadline_text"] = m.group(1)
        if at > now:
            prefs["deadline"] = f"{int((at - now).total_seconds() // 60)}m"
    elif m := _DEADLINE_IN.search(text):
        prefs["deadline_text"] = m.group(0)
        prefs["deadline"] = f"{int(m.group(1)) * _unit_seconds(m.group(2)) // 60}m"
    return prefs


def _start_time(text: str, now: dt.datetime) -> dt.datetime | None:
    if m := _STARTED_AT.search(text):
        day, hour, minute, half = m.groups()
        moment = _clock_time(hour, minute, half, day, now)
        return moment - dt.timedelta(days=1) if moment > now else moment
    if m := _STARTED_AGO.search(text):
        return now - dt.timedelta(seconds=int(m.group(1)) * _unit_seconds(m.group(2)))
    return None


def extract(text: str, now: dt.datetime | None = None) -> dict[str, Any]:
    """The rule-based reading of one message; keys only for what the message says."""
    now = now or dt.datetime.now().astimezone()
    found: dict[str, Any] = {}
    if m := _SLASH_TARGET.search(text):
        found["cluster"], found["service"] = m.group(1), m.group(2)
    if "cluster" not in found and (name := _first_name(_CLUSTER, text, env_ok=True)):
        found["cluster"] = name
    if "service" not in found and (name := _first_name(_SERVICE, text)):
        found["service"] = name.lower() if name.isupper() else name  # "API service" -> api
    if m := _REGION.search(text):
        found["region"] = m.group(0).lower()
    envs = [canonical_env(w) for w in _WORD.findall(text) if canonical_env(w)]
    if envs:
        found["environment"] = envs[-1]
    if intent := _intent(text):
        found["intent"] = intent
    labels, categories = _symptoms(text)
    if labels:
        found["symptoms"], found["likely_categories"] = labels, categories
    if started := _start_time(text, now):
        found["started_after"] = started.isoformat()
        window = min(max(now - started + START_MARGIN, MIN_WINDOW), MAX_WINDOW)
        found["since_s"] = int(window.total_seconds())
    if prefs := _preferences(text, now):
        found["preferences"] = prefs
    return found


def merge(previous: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """A follow-up refines the context: new values win, symptoms and categories accumulate."""
    merged = dict(previous)
    for key, value in update.items():
        if key in ("symptoms", "likely_categories"):
            merged[key] = list(dict.fromkeys([*(previous.get(key) or []), *value]))
        elif key == "preferences":
            merged[key] = {**(previous.get(key) or {}), **value}
        elif value not in (None, "", []):
            merged[key] = value
    if update.get("environment") and "cluster" not in update and previous.get("cluster"):
        # a different environment than the cluster we had: that cluster no longer holds
        if cluster_env(previous["cluster"]) not in (None, update["environment"]):
            merged.pop("cluster", None)
    where = ("cluster", "service", "region")
    if [merged.get(k) for k in where] != [previous.get(k) for k in where]:
        merged = resolved_to(merged, {})  # another service: the one discovery resolved before no longer holds
    return merged


def _stated(key: str, value: Any, text: str) -> bool:
    """A model's name, region or environment counts only when the message states it: the model extracts, it does
    not invent (nor redirect the thread to a service or an environment the message never named)."""
    words = {w.lower() for w in _WORD.findall(text)}
    if key == "region":
        return bool(_REGION.fullmatch(str(value))) and str(value).lower() in text.lower()
    if key in ("cluster", "service"):
        return str(value).lower() in words
    if key == "environment":  # also inside compound names: "Prod-EU"
        env = canonical_env(str(value))
        return env is not None and any(canonical_env(part) == env for word in words for part in re.split(r"[-_]", word))
    return True


def with_model_refinement(draft: dict[str, Any], refined: dict[str, Any], text: str) -> dict[str, Any]:
    """Fold a model's extraction of `text` into the rule-based draft: rules win where they found something."""
    out = dict(draft)
    for key in ("cluster", "service", "region", "environment", "intent"):
        if refined.get(key) and not out.get(key) and _stated(key, refined[key], text):
            out[key] = canonical_env(refined[key]) or refined[key] if key == "environment" else refined[key]
    if refined.get("symptoms"):
        labels, categories = _symptoms(" ; ".join(refined["symptoms"]))
        out["symptoms"] = list(dict.fromkeys([*(out.get("symptoms") or []), *labels]))
        out["likely_categories"] = list(dict.fromkeys([*(out.get("likely_categories") or []), *categories]))
    prefs = dict(out.get("preferences") or {})
    for key in ("risk", "tone"):
        if refined.get(key) and not prefs.get(key):
            prefs[key] = refined[key]
    if refined.get("deadline") and not prefs.get("deadline_text"):
        prefs["deadline_text"] = refined["deadline"]
    if prefs:
        out["preferences"] = prefs
    return out


# ---- which service: resolve loose names against what discovery lists --------------------------------------

def candidate(record: ServiceRecord) -> dict[str, str]:
    """A listed service as the context and the clarifying question hold it."""
    found = {"cluster": record.cluster, "service": record.name, "region": record.region, "service_id": record.id,
             "target": record.target, "account_id": record.account_id}
    return {key: value for key, value in found.items() if value}


def resolved_to(context: dict[str, Any], chosen: dict[str, str]) -> dict[str, Any]:
    """The context pointed at a chosen candidate; ids of a service resolved before do not carry over."""
    return {**{k: v for k, v in context.items() if k not in RESOLVED_KEYS}, **chosen}


def resolved_record(context: dict[str, Any]) -> ServiceRecord | None:
    """The listed service the context was resolved to; None when the user named cluster and service."""
    if not context.get("service_id"):
        return None
    return ServiceRecord(id=context["service_id"], name=context["service"], cluster=context["cluster"],
                         region=context["region"], account_id=context.get("account_id"), target=context.get("target"))


def candidate_label(c: dict[str, str], candidates: list[dict[str, str]]) -> str:
    """cluster/service, with its region (and account) where another candidate has the same names: twins are told
    apart by where they run."""
    label = f"{c['cluster']}/{c['service']}"
    twins = [o for o in candidates if (o["cluster"], o["service"]) == (c["cluster"], c["service"])]
    if len(twins) < 2:
        return label
    same_region = sum(o.get("region") == c.get("region") for o in twins) > 1
    return f"{label} in {c.get('region')}" + (f" (account {c.get('account_id')})" if same_region else "")


def clarifying_question(candidates: list[dict[str, str]], context: dict[str, Any]) -> str:
    if not candidates:
        wanted = context.get("service") or "the service"
        return (f"I could not find {wanted} among the ECS services I can see. Which cluster and service do you mean "
                f"(for example prod/api)?")
    shown = [candidate_label(c, candidates) for c in candidates[:MAX_CANDIDATES_SHOWN]]
    if len(shown) == 1:
        return f"Did you mean {shown[0]}?"
    return f"Which one do you mean: {', '.join(shown[:-1])} or {shown[-1]}?"


def pick_candidate(text: str, candidates: list[dict[str, str]]) -> dict[str, str] | None:
    """The candidate an answer to the clarifying question names, if exactly one fits."""
    lowered = text.lower()
    exact = [c for c in candidates if f"{c['cluster']}/{c['service']}".lower() in lowered]
    if len(exact) == 1:
        return exact[0]
    where = [c for c in exact or candidates if c.get("region") and c["region"] in lowered]  # twins: "us-west-2"
    if len(where) == 1:
        return where[0]
    words = [w.lower() for w in _WORD.findall(text)]
    if len(candidates) == 1 and words and set(words) <= _YES:
        return candidates[0]
    for word in words:
        if word in _ORDINALS and _ORDINALS[word] < len(candidates) and len(words) <= 4:
            return candidates[_ORDINALS[word]]
    envs = {canonical_env(w) for w in words if canonical_env(w)}
    by_cluster = [c for c in candidates if c["cluster"].lower() in words or (envs and cluster_env(c["cluster"]) in envs)]
    if len(by_cluster) == 1:
        return by_cluster[0]
    by_service = [c for c in candidates if c["service"].lower() in words]
    return by_service[0] if len(by_service) == 1 else None


def resolve_target(context: dict[str, Any], text: str,
                   list_services: Callable[[], list[ServiceRecord]]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """(context with the service filled when exactly one fits, candidates when several or none do).

    A context that already names both cluster and service is taken as it is (triage says clearly if it
    does not exist); otherwise the services discovery lists decide: the one the rules' name fits, else the
    ones the text names, else every one in the cluster or environment the context gives.
    """
    if context.get("cluster") and context.get("service"):
        return context, []
    # one record per exact service (two credentials may reach the same one), in the region the context names
    records = list({(r.account_id, r.region, r.cluster, r.name): r for r in reversed(list_services())
                    if not context.get("region") or r.region == context["region"]}.values())[::-1]
    # a named cluster is the scope; its environment words only repeat it
    scope = {"cluster": context.get("cluster"),
             "environment": None if context.get("cluster") else context.get("environment")}
    if context.get("service"):
        found = match_services(context["service"], records, min_score=STRONG_SCORE, **scope)
        if not found:  # only look-alikes ("api" for app): offer them, never pick one silently
            return context, [candidate(r) for r in match_services(context["service"], records, **scope)]
    else:
        found = services_mentioned(text, records, **scope) or match_services("", records, **scope)
    candidates = [candidate(r) for r in found]
    if len(candidates) == 1:
        return resolved_to(context, candidates[0]), []
    return context, candidates
