"""Lambda code assets, one per kind of function (infra/assets.py), built without Docker.

An asset is
  - the third-party wheels of its kind's lock file, installed by pip with --require-hashes and
    --no-deps (the lock is the whole resolution) as manylinux aarch64 wheels for CPython 3.12,
    cached under build/lambda-deps by the lock's content;
  - the project modules its handlers can import (infra/import_graph.py), with their packages' data
    files; never the sandbox or the demo. A module that imports a package the kind does not install
    fails the build, naming the import chain;
  - compiled to bytecode by a CPython 3.12 interpreter when one is found (Lambda's /var/task is
    read-only, so without it every cold container compiles all it imports: about a second more).
Its unzipped size is printed and checked against the kind's budget and Lambda's limit.
`assetMode=source` stages only the modules (no wheels, no bytecode), for fast unit synths.
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import aws_cdk as cdk
import jsii
from aws_cdk import aws_lambda as lambda_

from .assets import LAMBDA_PYTHON, PIP_PLATFORMS, AssetKind, check_lock_current
from .import_graph import ImportClosure, ProjectGraph

LAMBDA_UNZIPPED_LIMIT = 250 * 1024 * 1024
SOURCE_PACKAGES = ("agents", "functions")
# Local tools (the sandbox, the command line, its chat, demo and MCP server) that no function may ship.
NEVER_SHIPPED = ("agents.aws_ecs_service.sandbox", "agents.aws_ecs_service.interfaces")
DATA_SUFFIXES = (".json", ".yaml")
# Names a CPython 3.12 to compile the asset with; otherwise PATH, then pyenv's installs.
BUNDLE_PYTHON_ENV = "ECS_AGENT_BUNDLE_PYTHON"
# Bumped when the way an asset is built changes, so CDK does not reuse an asset built the old way.
BUILD_FORMAT = "2"
_DONE = ".complete"


class AssetError(RuntimeError):
    pass


class AssetTooLarge(AssetError):
    pass


class UnshippableImport(AssetError):
    """A handler's imports reach a module the asset must not or cannot ship."""


@dataclass(frozen=True)
class Target:
    """Where an asset's wheels run: Lambda, or this machine (to import the handlers in tests and benchmarks)."""
    python_version: str
    platforms: tuple[str, ...]


LAMBDA = Target(LAMBDA_PYTHON, PIP_PLATFORMS)


def host_target(python_version: str) -> Target:
    machine = platform.machine()
    return Target(python_version, (f"manylinux2014_{machine}", f"manylinux_2_28_{machine}"))


def directory_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _interpreter_candidates() -> list[str]:
    found = [os.environ.get(BUNDLE_PYTHON_ENV), shutil.which(f"python{LAMBDA_PYTHON}")]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    found += [str(p) for p in sorted(pyenv_root.glob(f"versions/{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}"),
                                     reverse=True)]
    return [c for c in found if c]


def python_version_of(interpreter: str) -> str | None:
    try:
        out = subprocess.run([interpreter, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def bundle_python() -> str | None:
    """A CPython of the runtime's version, or None (a pyenv shim without that version active fails the check)."""
    return next((c for c in _interpreter_candidates() if python_version_of(c) == LAMBDA_PYTHON), None)


def lambda_bytecode_python() -> str | None:
    """The interpreter that compiles a Lambda asset, or None (said on stderr: the asset then has no bytecode)."""
    python = bundle_python()
    if python is None:
        print(f"Lambda asset: no Python {LAMBDA_PYTHON} found (set {BUNDLE_PYTHON_ENV}); shipping it without "
              "bytecode, so each cold start compiles what it imports", file=sys.stderr)
    return python


def compile_bytecode(tree: Path, python: str) -> None:
    """Compile the tree with `python`. unchecked-hash: the asset never changes once deployed, and the zip's
    file times differ from the sources', which would make timestamp-checked bytecode stale."""
    result = subprocess.run([python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
                             str(tree)], capture_output=True, text=True)
    if result.returncode != 0:
        # A file that does not compile here fails the same way in Lambda only if imported: not fatal.
        print(f"Lambda asset: some files did not compile:\n{result.stdout[-2000:]}", file=sys.stderr)


def top_level_installed(tree: Path, name: str) -> bool:
    return (tree / name).is_dir() or (tree / f"{name}.py").is_file() or any(tree.glob(f"{name}.*so"))


class AssetBuild:
    """One kind's asset: the handlers it serves, its lock file, the project modules they import."""

    def __init__(self, kind: AssetKind, handlers: tuple[str, ...], repo_root: Path, cache_root: Path):
        self.kind = kind
        self.handlers = handlers
        self.repo_root = repo_root
        self.cache_root = cache_root

    @property
    def lock(self) -> Path:
        return self.kind.lock_path(self.repo_root)

    @cached_property
    def sources(self) -> ImportClosure:
        closure = ProjectGraph(self.repo_root, SOURCE_PACKAGES).closure(list(self.handlers))
        banned = [m for m in closure.modules if m.startswith(NEVER_SHIPPED)]
        if banned:
            raise UnshippableImport(f"the '{self.kind.name}' asset would ship {banned[0]}, a local tool: "
                                    f"{' -> '.join(closure.chain(banned[0]))}")
        return closure

    def source_files(self) -> list[Path]:
        """The handlers' modules and the data files (JSON, YAML) of their packages, relative to the repo."""
        files = set(self.sources.modules.values())
        for path in list(files):
            if path.name == "__init__.py":
                files |= {p for p in path.parent.iterdir() if p.suffix in DATA_SUFFIXES and p.is_file()}
        return sorted(p.relative_to(self.repo_root) for p in files)

    def fingerprint(self, with_dependencies: bool) -> str:
        """The CDK asset hash: what the asset is built from, so an unchanged asset is not rebuilt or uploaded."""
        digest = hashlib.sha256(f"{BUILD_FORMAT}:{self.kind.name}:{with_dependencies}".encode())
        if with_dependencies:
            digest.update(self.lock.read_bytes())
            digest.update(str(bundle_python() is not None).encode())
        for path in self.source_files():
            digest.update(str(path).encode() + b"\0" + (self.repo_root / path).read_bytes())
        return digest.hexdigest()

    def install_dependencies(self, target: Target) -> Path:
        """pip-install the lock's wheels for `target` once; later builds reuse the folder."""
        key = hashlib.sha256(self.lock.read_bytes() + repr(target).encode()).hexdigest()[:16]
        folder = self.cache_root / f"{self.kind.name}-{key}"
        if (folder / _DONE).exists():
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
                   "--require-hashes", "--no-deps", "--only-binary=:all:", "--implementation", "cp",
                   "--python-version", target.python_version, "--target", str(folder), "-r", str(self.lock)]
        for name in target.platforms:
            command += ["--platform", name]
        subprocess.run(command, check=True)
        for cache in folder.rglob("__pycache__"):
            shutil.rmtree(cache, ignore_errors=True)
        (folder / _DONE).touch()
        return folder

    def check_imports_installed(self, tree: Path) -> None:
        for package, importers in sorted(self.sources.third_party.items()):
            if not top_level_installed(tree, package):
                importer = sorted(importers)[0]
                raise UnshippableImport(
                    f"{' -> '.join(self.sources.chain(importer))} imports {package}, which the '{self.kind.name}' "
                    f"asset does not install: add its distribution to the kind in infra/assets.py (then `make "
                    "lock`), or keep that import off this function's path")

    def build(self, out: Path, target: Target = LAMBDA, *, with_dependencies: bool = True,
              python: str | None = None) -> int:
        """Fill `out`; bytecode from `python` (None: none). Returns the unzipped size in bytes."""
        if with_dependencies:
            deps = self.install_dependencies(target)
            shutil.copytree(deps, out, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_DONE))
            self.check_imports_installed(out)
        for path in self.source_files():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.repo_root / path, out / path)
        if python:
            compile_bytecode(out, python)
        size = directory_size(out)
        if with_dependencies and target == LAMBDA:
            print(f"Lambda asset '{self.kind.name}': {size / 1e6:.1f} MB unzipped (budget "
                  f"{self.kind.budget_bytes / 1e6:.0f} MB, Lambda's limit {LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB)",
                  file=sys.stderr)
            limit = min(self.kind.budget_bytes, LAMBDA_UNZIPPED_LIMIT)
            if size > limit:
                raise AssetTooLarge(f"Lambda asset '{self.kind.name}' is {size} bytes unzipped, over the {limit} "
                                    "limit")
        return size


@jsii.implements(cdk.ILocalBundling)
class LocalBundling:
    def __init__(self, build: AssetBuild, with_dependencies: bool):
        self.asset = build
        self.with_dependencies = with_dependencies

    def try_bundle(self, output_dir: str, *args, **kwargs) -> bool:
        python = lambda_bytecode_python() if self.with_dependencies else None
        self.asset.build(Path(output_dir), with_dependencies=self.with_dependencies, python=python)
        return True


def function_code(build: AssetBuild, mode: str) -> lambda_.Code:
    """`bundled`: the deployable asset, from the kind's lock file. `source`: the modules only, for unit synths."""
    bundled = mode == "bundled"
    if bundled:
        check_lock_current(build.kind, build.repo_root)
    return lambda_.Code.from_asset(
        str(build.repo_root),
        asset_hash=build.fingerprint(bundled),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(
            # Never pulled: local bundling always succeeds or raises.
            image=cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12"),
            local=LocalBundling(build, bundled),
        ),
    )
