"""Secrets in the structured fields of evidence: container definitions (and task overrides), named values.

Replaced whatever they hold: environment values, the `valueFrom` of secrets and of log `secretOptions`,
repository credentials. Replaced by name (secret_names.py): a string under a secret-named key (docker
labels, log driver options, volume driver options, any mapping) and the value of a
`{"name"|"key": N, "value": V}` pair whose N is a secret name (proxy properties, tags). Command lines
(`command`, `entryPoint`, `healthCheck.command`): the flags of secret_args.py. ARN values under a
secret name stay: they point at a secret, and the diagnosis quotes them.
"""
from __future__ import annotations

from typing import Any

from .secret_args import argv_spans
from .secret_names import is_secret_name
from .secret_text import MASK, apply_mask

_PAIRS = (("name", "value"), ("Name", "Value"), ("key", "value"), ("Key", "Value"))


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _replace(mapping: Any, key: str) -> None:
    if isinstance(mapping, dict) and key in mapping:
        mapping[key] = MASK


def _mask_argv(args: Any) -> None:
    if isinstance(args, list):
        for i, span in argv_spans(args):
            args[i] = apply_mask(args[i], [span])


def redact_container(container: dict[str, Any]) -> None:
    """Mask, in place, what a container definition (or a task's container override) holds that is secret."""
    for env in _dicts(container.get("environment")):
        _replace(env, "value")
    for secret in _dicts(container.get("secrets")):
        _replace(secret, "valueFrom")
    _replace(container.get("repositoryCredentials"), "credentialsParameter")
    log_config = container.get("logConfiguration")
    if isinstance(log_config, dict):
        for secret in _dicts(log_config.get("secretOptions")):
            _replace(secret, "valueFrom")
    _mask_argv(container.get("command"))
    _mask_argv(container.get("entryPoint"))
    health = container.get("healthCheck")
    if isinstance(health, dict):
        _mask_argv(health.get("command"))


def secret_keys(mapping: dict[Any, Any]) -> set[Any]:
    """The keys of `mapping` whose string value is a secret, by the key's name or by a name/value pair."""
    found = {k for k, v in mapping.items()
             if isinstance(k, str) and isinstance(v, str) and v and not v.startswith("arn:") and is_secret_name(k)}
    for name_key, value_key in _PAIRS:
        name, value = mapping.get(name_key), mapping.get(value_key)
        if isinstance(name, str) and isinstance(value, str) and value and is_secret_name(name):
            found.add(value_key)
    return found
