"""Errors a triage can end with; each carries one readable line for the user (CLI exit 2)."""
from __future__ import annotations


class TriageError(Exception):
    """Base class: `str(exc)` is the one-line message shown to the user."""


class BadInput(TriageError):
    pass


class ClusterNotFound(TriageError):
    pass


class ServiceNotFound(TriageError):
    pass


class NoCredentials(TriageError):
    pass


class AwsAccessError(TriageError):
    """AWS refused or failed a required read (after retries): access denied, throttled, unreachable."""


class EvidenceFileError(TriageError):
    """A saved evidence document that cannot be read or is not ecs-evidence/v1."""
