"""The kinds of Lambda code asset, what each installs, and their lock files.

One asset per kind of function, so a function ships only what its kind imports:
  light     intake, approval API, decision deliverer: boto3, Powertools, pydantic, psycopg; no LangChain, LangGraph,
            numpy
  workflow  the Step Functions steps: rules, no model; adds PyYAML (agent.yaml) and the X-Ray SDK (Tracer)
  graph     chat API and migrations: LangGraph on Bedrock with the PostgreSQL checkpointer
Which project modules go in is derived from the handlers' imports (infra/import_graph.py); which
distributions, from the names below, each at the version range pyproject.toml gives it, resolved and
hashed for Lambda's platform into requirements/lambda-<kind>.lock by `make lock` (uv).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

LOCK_DIR = "requirements"
LAMBDA_PYTHON = "3.12"
# uv's name for the platform the locks resolve for; the bundler installs the same wheels (pip's tags below).
UV_PLATFORM = "aarch64-manylinux_2_28"
# AL2023 (the python3.12 runtime) has glibc 2.34: manylinux2014 and manylinux_2_28 wheels both run.
PIP_PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
INPUT_PREFIX = "# input: "
# Distributions a dependency declares that no function imports, left out of the locks. The import test
# (tests/infra/test_lambda_asset.py) runs each handler without them.
OMITTED = {
    "numpy": "langchain-aws imports it only in its embeddings and vector stores; the chat model never does",
    "zstandard": "langsmith compresses traces with it only when LangSmith tracing is on, and runs without it",
}
MB = 1_000_000

_LIGHT = ("boto3", "pydantic", "aws-lambda-powertools", "psycopg")
_WORKFLOW = (*_LIGHT, "pyyaml", "pydantic-settings", "aws-xray-sdk")


@dataclass(frozen=True)
class AssetKind:
    name: str
    distributions: tuple[str, ...]
    budget_bytes: int  # unzipped, bytecode included
    omitted: tuple[str, ...] = ()

    def lock_path(self, root: Path) -> Path:
        return root / LOCK_DIR / f"lambda-{self.name}.lock"


ASSET_KINDS = {
    "light": AssetKind("light", _LIGHT, budget_bytes=60 * MB),
    "workflow": AssetKind("workflow", _WORKFLOW, budget_bytes=150 * MB),
    "graph": AssetKind("graph", (*_WORKFLOW, "httpx", "langgraph", "langchain-core", "langchain-aws",
                                 "langgraph-checkpoint-postgres"),
                       budget_bytes=150 * MB, omitted=("numpy", "zstandard")),
}


class StaleLock(RuntimeError):
    """A lock file that no longer matches pyproject.toml (or is missing)."""


def declared_requirements(pyproject: Path) -> dict[str, str]:
    """Canonical name -> requirement, from the project's dependencies and its `lambda` extra."""
    project = tomllib.loads(pyproject.read_text())["project"]
    declared = [*project["dependencies"], *project.get("optional-dependencies", {}).get("lambda", [])]
    return {canonicalize_name(Requirement(r).name): r for r in declared}


def lock_inputs(kind: AssetKind, pyproject: Path) -> list[str]:
    """What the kind's lock resolves: its distributions at the ranges pyproject.toml declares."""
    declared = declared_requirements(pyproject)
    missing = [d for d in kind.distributions if canonicalize_name(d) not in declared]
    if missing:
        raise KeyError(f"asset '{kind.name}' needs {', '.join(missing)}, which pyproject.toml does not declare")
    return sorted(declared[canonicalize_name(d)] for d in kind.distributions)


def input_line(inputs: list[str]) -> str:
    return INPUT_PREFIX + "; ".join(inputs)


def check_lock_current(kind: AssetKind, root: Path) -> Path:
    """The kind's lock file, if it was made from what pyproject.toml declares now; else StaleLock."""
    lock = kind.lock_path(root)
    if not lock.is_file():
        raise StaleLock(f"{lock.relative_to(root)} is missing: run `make lock`")
    expected = input_line(lock_inputs(kind, root / "pyproject.toml"))
    recorded = next((line for line in lock.read_text().splitlines() if line.startswith(INPUT_PREFIX)), None)
    if recorded != expected:
        raise StaleLock(f"{lock.relative_to(root)} was locked from other requirements than pyproject.toml declares "
                        f"now ({recorded or 'none recorded'} != {expected}): run `make lock`")
    return lock


def locked_versions(lock: Path) -> dict[str, str]:
    """Canonical name -> pinned version, from a uv/pip-tools lock file."""
    pins = {}
    for line in lock.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#") and "==" in line:
            name, version = line.split(" ")[0].split("==")
            pins[canonicalize_name(name.split("[")[0])] = version
    return pins
