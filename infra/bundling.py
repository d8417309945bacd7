"""The one Lambda code asset: project runtime dependencies for Lambda arm64 + agents/ + functions/.

Built without Docker: pip downloads manylinux aarch64 wheels for CPython 3.12 into a cache folder
keyed by the requirement list, then each bundling copies that folder and the source packages.
The tree is then compiled to bytecode by a CPython 3.12 interpreter when one is found (Lambda's
/var/task is read-only, so without it every cold container compiles all it imports: 1.1 s more for
the intake, 1.3 s for the chat function, measured). The unzipped size is printed and checked against Lambda's
limit.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
SOURCE_PACKAGES = ("agents", "functions")
PYTHON_VERSION = "3.12"
# AL2023 (the python3.12 runtime) has glibc 2.34: manylinux2014 and manylinux_2_28 wheels both run.
PLATFORMS = ("manylinux2014_aarch64", "manylinux_2_28_aarch64")
# Runtime dependencies of the CLI/sandbox that no Lambda function imports.
NOT_IN_LAMBDA = {"moto", "langgraph-checkpoint-sqlite"}
# Needed in Lambda only: Powertools Tracer sends to X-Ray through aws-xray-sdk.
LAMBDA_EXTRAS = ("aws-xray-sdk>=2.14",)
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# Names a CPython 3.12 to compile the asset with; otherwise PATH, then pyenv's installs.
BUNDLE_PYTHON_ENV = "ECS_AGENT_BUNDLE_PYTHON"


class AssetTooLarge(RuntimeError):
    pass


def lambda_requirements(pyproject: Path) -> list[str]:
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    kept = [d for d in deps if _NAME.match(d).group(1).lower() not in NOT_IN_LAMBDA]
    return sorted(kept + list(LAMBDA_EXTRAS))


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def install_dependencies(requirements: list[str], cache_root: Path) -> Path:
    """pip-install the wheels once per requirement set; later builds reuse the folder."""
    key = hashlib.sha256(json.dumps([requirements, PLATFORMS, PYTHON_VERSION]).encode()).hexdigest()[:16]
    target = cache_root / key
    done = target / ".complete"
    if done.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-compile", "--only-binary=:all:", "--implementation", "cp",
               "--python-version", PYTHON_VERSION, "--target", str(target)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run(command + requirements, check=True)
    for cache in target.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    done.touch()
    return target


def _interpreter_candidates() -> list[str]:
    found = [os.environ.get(BUNDLE_PYTHON_ENV), shutil.which(f"python{PYTHON_VERSION}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += [str(p) for p in sorted(pyenv_root.glob(f"versions/{PYTHON_VERSION}.*/bin/python{PYTHON_VERSION}"),
                                     reverse=True)]
    return [c for c in found if c]


def bundle_python() -> str | None:
    """A CPython of the runtime's version, or None (a pyenv shim without that version active fails the check)."""
    for candidate in _interpreter_candidates():
        try:
            out = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            continue
        if out.returncode == 0 and out.stdout.strip() == PYTHON_VERSION:
            return candidate
    return None


def compile_bytecode(tree: Path) -> bool:
    """Compile the tree for the runtime. unchecked-hash: the asset never changes once deployed, and the
    zip's file times differ from the sources', which would make timestamp-checked bytecode stale."""
    python = bundle_python()
    if python is None:
        print(f"Lambda asset: no Python {PYTHON_VERSION} found (set {BUNDLE_PYTHON_ENV}); shipping it without "
              "bytecode, so each cold start compiles what it imports", file=sys.stderr)
        return False
    result = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                             str(tree)], capture_output=True, text=True)
    if result.returncode != 0:
        # A file that does not compile here fails the same way in Lambda only if imported: not fatal.
        print(f"Lambda asset: some files did not compile:\n{result.stdout[-2000:]}", file=sys.stderr)
    return True


@jsii.implements(cdk.ILocalBundling)
class PipLocalBundling:
    def __init__(self, repo_root: Path, cache_root: Path):
        self.repo_root = repo_root
        self.cache_root = cache_root

    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        out = Path(output_dir)
        deps = install_dependencies(lambda_requirements(self.repo_root / "pyproject.toml"), self.cache_root)
        shutil.copytree(deps, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
        for package in SOURCE_PACKAGES:
            shutil.copytree(self.repo_root / package, out / package, dirs_exist_ok=True, ignore=_IGNORE)
        compile_bytecode(out)
        size = directory_size(out)
        print(f"Lambda asset: {size / 1e6:.1f} MB unzipped (limit {LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB)",
              file=sys.stderr)
        if size > LAMBDA_UNZIPPED_LIMIT:
            raise AssetTooLarge(f"Lambda asset is {size} bytes unzipped, over the {LAMBDA_UNZIPPED_LIMIT} limit")
        return True


def _source_excludes() -> list[str]:
    # Fingerprint only what goes into the asset (never .venv, node_modules or cdk.out).
    keep = [f"!{p}" for name in SOURCE_PACKAGES for p in (name, f"{name}/**")]
    return ["*", *keep, "!pyproject.toml", "**/__pycache__", "**/*.pyc"]


def function_code(repo_root: Path, mode: str, cache_root: Path) -> lambda_.Code:
    """`bundled`: the deployable asset. `source`: agents/ and functions/ only, for fast unit synths."""
    if mode == "source":
        return lambda_.Code.from_asset(str(repo_root), exclude=_source_excludes())
    return lambda_.Code.from_asset(
        str(repo_root),
        exclude=_source_excludes(),
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds or raises.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=PipLocalBundling(repo_root, cache_root),
        ),
    )
