"""Find services from how people name them: "the checkout service in staging" -> checkout (staging).

Fuzzy on purpose: filler words go, the environment named in the text becomes a filter
when the directory knows such an environment, and names are compared by token and by
similarity ("checkout" matches "checkout-api" and "check-out"). A service's environment is
its tag, else an environment word in its cluster's name (cluster prod -> production).
`services_mentioned` answers the other question, which listed services a sentence names
("show me the last errors of orders" -> orders).
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

from .interface import ServiceDirectory, ServiceRecord

MIN_SCORE = 0.6
STRONG_SCORE = 0.8  # a name equal to, made of or containing the query; weaker look-alikes then drop out
LOOSE_CEILING = 0.79  # the most a look-alike spelling scores
_FILLER = {"the", "a", "an", "service", "services", "svc", "app", "application", "ecs", "in", "on", "of", "for",
           "my", "our", "env", "environment", "cluster", "account", "please", "is", "it", "its"}
_WORD = re.compile(r"[a-z0-9]+")
# common spellings of the same environment
ENV_ALIASES = {"prod": "production", "prd": "production", "production": "production", "live": "production",
               "staging": "staging", "stage": "staging", "stg": "staging", "dev": "development",
               "develop": "development", "development": "development", "test": "test", "testing": "test",
               "qa": "test"}


def canonical_env(word: str | None) -> str | None:
    """The environment a word names ("prd" -> production), None when it names none."""
    return ENV_ALIASES.get((word or "").strip().lower())


def cluster_env(cluster: str) -> str | None:
    """The environment a cluster's name says ("prod-eu" -> production), if any."""
    envs = [env for token in _tokens(cluster) if (env := canonical_env(token))]
    return envs[0] if envs else None


def environment_of(record: ServiceRecord) -> str | None:
    if record.environment:
        return canonical_env(record.environment) or record.environment.strip().lower()
    return cluster_env(record.cluster)


def _env_word(word: str) -> str:
    return canonical_env(word) or word.strip().lower()


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _scope(records: Iterable[ServiceRecord], words: list[str], environment: str | None,
           cluster: str | None) -> tuple[list[ServiceRecord], list[str]]:
    """(the records in the cluster and environment, the words without the environment's)."""
    records = [r for r in records if cluster is None or r.cluster == cluster]
    known_envs = {env for r in records if (env := environment_of(r))}
    wanted_env = _env_word(environment) if environment else None
    if wanted_env is None:
        named = [w for w in words if _env_word(w) in known_envs]
        if named:
            wanted_env = _env_word(named[-1])
    if wanted_env is None:
        return records, words
    return ([r for r in records if environment_of(r) == wanted_env],
            [w for w in words if _env_word(w) != wanted_env])


def _score(words: list[str], record: ServiceRecord) -> float:
    wanted = "-".join(words)
    name = record.name.lower()
    name_tokens = _tokens(name)
    if wanted == name or "".join(words) == "".join(name_tokens):
        return 1.0
    if all(w in name_tokens for w in words):
        return 0.9
    # a spelling that is only similar ("biling" for billing) is never strong: the person confirms it first
    similarity = min(difflib.SequenceMatcher(None, "".join(words), "".join(name_tokens)).ratio(), LOOSE_CEILING)
    cluster_tokens = _tokens(record.cluster)
    in_cluster = all(w in cluster_tokens or w in name_tokens for w in words)
    return max(similarity, 0.7 if in_cluster else 0.0, 0.8 if "".join(words) in "".join(name_tokens) else 0.0)


def _order_key(record: ServiceRecord) -> tuple[str, str, str, str]:
    return record.name, record.cluster, record.account_id or "", record.region


def _ordered(records: Iterable[ServiceRecord]) -> list[ServiceRecord]:
    return sorted(records, key=_order_key)


def match_services(query: str, records: Iterable[ServiceRecord], environment: str | None = None,
                   cluster: str | None = None, min_score: float = MIN_SCORE) -> list[ServiceRecord]:
    """The records a free-text name fits, best first; a query without a name lists every service in scope.

    `min_score=STRONG_SCORE` leaves out look-alikes ("chekout"): for callers that act on the answer.
    """
    in_scope, words = _scope(records, [w for w in _tokens(query) if w not in _FILLER], environment, cluster)
    if not words:
        return _ordered(in_scope)
    scored = [(score, r) for r in in_scope if (score := _score(words, r)) >= min_score]
    if any(score >= STRONG_SCORE for score, _ in scored):
        scored = [(score, r) for score, r in scored if score >= STRONG_SCORE]
    scored.sort(key=lambda pair: (-pair[0], *_order_key(pair[1])))
    return [r for _, r in scored]


def services_mentioned(text: str, records: Iterable[ServiceRecord], environment: str | None = None,
                       cluster: str | None = None) -> list[ServiceRecord]:
    """The records whose whole name the text contains as words; "checkout-api" names checkout-api, not api."""
    words = _tokens(text)
    in_scope, _ = _scope(records, words, environment, cluster)
    said = f" {' '.join(words)} "
    mentioned = [r for r in in_scope if f" {' '.join(_tokens(r.name))} " in said]
    longer = [set(_tokens(r.name)) for r in mentioned]
    return _ordered(r for r in mentioned if not any(set(_tokens(r.name)) < other for other in longer))


def find_services(query: str, environment: str | None = None,
                  directory: ServiceDirectory | None = None) -> list[ServiceRecord]:
    """Services matching a free-text name, best first; `environment` (or one named in the text) filters."""
    if directory is None:
        from ..config import ECSDeepAgentConfig
        from .factory import build_discovery

        directory = build_discovery(ECSDeepAgentConfig.load()).services
    return match_services(query, directory.list_services(), environment)
