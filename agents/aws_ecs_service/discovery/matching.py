"""Find services from how people name them: "the checkout service in staging" -> checkout (staging).

Fuzzy on purpose: filler words go, the environment named in the text becomes a filter
when the directory knows such an environment, and names are compared by token and by
similarity ("checkout" matches "checkout-api" and "check-out").
"""
from __future__ import annotations

import difflib
import re

from .interface import ServiceDirectory, ServiceRecord

MIN_SCORE = 0.6
_FILLER = {"the", "a", "an", "service", "services", "svc", "app", "application", "ecs", "in", "on", "of", "for",
           "my", "our", "env", "environment", "cluster", "account", "please", "is", "it", "its"}
_WORD = re.compile(r"[a-z0-9]+")
# common spellings of the same environment
_ENV_ALIASES = {"prod": "production", "prd": "production", "stg": "staging", "stage": "staging",
                "dev": "development", "develop": "development", "qa": "test", "testing": "test"}


def _canonical_env(name: str | None) -> str:
    word = (name or "").strip().lower()
    return _ENV_ALIASES.get(word, word)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _score(words: list[str], record: ServiceRecord) -> float:
    if not words:
        return 0.0
    wanted = "-".join(words)
    name = record.name.lower()
    name_tokens = _tokens(name)
    if wanted == name or "".join(words) == "".join(name_tokens):
        return 1.0
    if all(w in name_tokens for w in words):
        return 0.9
    similarity = difflib.SequenceMatcher(None, "".join(words), "".join(name_tokens)).ratio()
    cluster_tokens = _tokens(record.cluster)
    in_cluster = all(w in cluster_tokens or w in name_tokens for w in words)
    return max(similarity, 0.7 if in_cluster else 0.0, 0.8 if "".join(words) in "".join(name_tokens) else 0.0)


def find_services(query: str, environment: str | None = None,
                  directory: ServiceDirectory | None = None) -> list[ServiceRecord]:
    """Services matching a free-text name, best first; `environment` (or one named in the text) filters."""
    if directory is None:
        from ..config import ECSDeepAgentConfig
        from .factory import build_discovery

        directory = build_discovery(ECSDeepAgentConfig.load()).services
    records = directory.list_services()
    known_envs = {_canonical_env(r.environment) for r in records if r.environment}
    words = [w for w in _tokens(query) if w not in _FILLER]
    wanted_env = _canonical_env(environment) if environment else None
    if wanted_env is None:
        named = [w for w in words if _canonical_env(w) in known_envs]
        if named:
            wanted_env = _canonical_env(named[-1])
    words = [w for w in words if _canonical_env(w) != wanted_env]
    scored = [(_score(words, r), r) for r in records
              if wanted_env is None or _canonical_env(r.environment) == wanted_env]
    scored = [(s, r) for s, r in scored if s >= MIN_SCORE]
    scored.sort(key=lambda pair: (-pair[0], pair[1].name, pair[1].account_id or ""))
    return [r for _, r in scored]
