"""The one Lambda code asset: project runtime dependencies for Lambda arm64 + agents/ + functions/.

Built without Docker: pip downloads manylinux aarch64 wheels for CPython 3.12 into a cache folder
keyed by the requirement list, then each bundling copies that folder and the source packages.
The unzipped size is printed and checked against Lambda's limit.
"""
from __future__ import annotations

import hashlib
import json
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
