"""The real Lambda assets, one per kind of function: built without Docker from the lock files, for arm64."""
from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from infra import bundling
from infra.assets import ASSET_KINDS, MB, OMITTED, locked_versions
from infra.settings import Settings
from infra.stack import asset_builds, function_specs

pytestmark = pytest.mark.slow  # builds the Lambda assets (pip, bytecode)

# Never in an asset: local tools and what only they import.
NEVER = ("mcp", "uvicorn", "starlette", "sse_starlette", "moto", "numpy", "numpy.libs", "zstandard")
# Not in the intake, approval and workflow assets: the model's stack.
GRAPH_ONLY = ("langchain", "langchain_core", "langchain_aws", "langgraph", "langsmith", "websockets")


@pytest.fixture(scope="module")
def builds() -> dict[str, bundling.AssetBuild]:
    settings = Settings()
    return asset_builds(function_specs(settings), settings)


@pytest.fixture(scope="module")
def assets(builds, tmp_path_factory) -> dict[str, tuple[Path, int]]:
    """kind -> (asset directory, unzipped bytes), built as `make synth` builds them."""
    python = bundling.lambda_bytecode_python()
    out = {}
    for kind, build in builds.items():
        tree = tmp_path_factory.mktemp(f"asset-{kind}")
        out[kind] = (tree, build.build(tree, python=python))
    return out


def test_one_asset_per_kind_serving_its_functions(builds):
    assert {kind: set(b.handlers) for kind, b in builds.items()} == {
        "light": {"functions.intake", "functions.approval_api", "functions.deliver_decisions"},
        "workflow": {f"functions.workflow.{s}" for s in
                     ("triage", "plan", "request_approval", "remediate", "verify", "report")},
        "graph": {"functions.chat_api", "functions.migrate"},
    }


def test_every_asset_fits_its_budget(assets):
    for kind, (_, size) in assets.items():
        print(f"\nLambda asset {kind}: {size / MB:.1f} MB unzipped")
        assert size <= ASSET_KINDS[kind].budget_bytes <= 150 * MB
    assert assets["light"][1] <= 60 * MB


def test_assets_hold_their_handlers_and_aarch64_wheels(assets, builds):
    for kind, (tree, _) in assets.items():
        for module in builds[kind].handlers:
            assert (tree / (module.replace(".", "/") + ".py")).is_file(), module
        binaries = [p.name for p in (tree / "pydantic_core").glob("*.so")]
        assert binaries and all("aarch64" in name for name in binaries), kind
        assert not list(tree.rglob("*.cpython-311.pyc")), "the development tree's bytecode leaked into the asset"
    graph = assets["graph"][0]
    for package in ("langgraph", "langchain_aws", "langgraph/checkpoint/postgres", "psycopg", "aws_xray_sdk"):
        assert (graph / package).is_dir(), package
    assert (assets["workflow"][0] / "aws_xray_sdk").is_dir() and (assets["workflow"][0] / "yaml").is_dir()


def test_no_asset_ships_local_tools_and_only_the_graph_asset_ships_the_model_stack(assets):
    for kind, (tree, _) in assets.items():
        shipped = {p.name for p in tree.iterdir()}
        assert not shipped & set(NEVER), (kind, shipped & set(NEVER))
        assert not (tree / "agents" / "aws_ecs_service" / "sandbox").exists()
        assert not (tree / "agents" / "aws_ecs_service" / "demo.py").exists()
        assert not (tree / "agents" / "aws_ecs_service" / "mcp_server.py").exists()
        if kind != "graph":
            assert not shipped & set(GRAPH_ONLY), (kind, shipped & set(GRAPH_ONLY))


def _installed_versions(tree: Path) -> dict[str, str]:
    from packaging.utils import canonicalize_name

    out = {}
    for info in tree.glob("*.dist-info"):
        fields = dict(line.split(": ", 1) for line in (info / "METADATA").read_text().splitlines()[:5] if ": " in line)
        out[canonicalize_name(fields["Name"])] = fields["Version"]
    return out


def test_each_asset_installs_exactly_its_lock_file(assets, builds):
    for kind, (tree, _) in assets.items():
        assert _installed_versions(tree) == locked_versions(builds[kind].lock), kind
    assert not set(OMITTED) & set(locked_versions(builds["graph"].lock))


def _pyc_flags(path) -> int:
    return int.from_bytes(path.read_bytes()[4:8], "little")


def test_assets_ship_bytecode_for_the_runtime_when_a_312_interpreter_exists(assets):
    python = bundling.bundle_python()
    tree = assets["light"][0]
    compiled = list(tree.rglob("*.pyc"))
    if python is None:
        assert not compiled
        return
    for module in ("functions/__pycache__/intake.cpython-312.pyc", "boto3/__pycache__/session.cpython-312.pyc",
                   "pydantic/__pycache__/main.cpython-312.pyc"):
        assert (tree / module).is_file(), module
        assert _pyc_flags(tree / module) == 0b01, "hash-based and never checked against the source"
    # The 3.12 interpreter really loads the shipped bytecode: compile nothing more, even with writes allowed
    # (pure-Python modules only: the asset's binary wheels are for arm64).
    probe = "import sys; sys.dont_write_bytecode = False; import functions, boto3.session; print('ok')"
    out = subprocess.run([python, "-c", probe], cwd=tree, capture_output=True, text=True, env={"PYTHONPATH": str(tree)})
    assert out.stdout.strip() == "ok", out.stderr
    assert len(list(tree.rglob("*.pyc"))) == len(compiled)


def test_without_a_312_interpreter_the_asset_builds_without_bytecode(monkeypatch, capsys):
    monkeypatch.setattr(bundling, "_interpreter_candidates", lambda: ["/nonexistent/python3.12"])
    assert bundling.lambda_bytecode_python() is None
    assert "no Python 3.12 found" in capsys.readouterr().err


def test_an_asset_over_its_budget_fails_the_build(builds, assets, tmp_path):
    light = builds["light"]
    tight = bundling.AssetBuild(dataclasses.replace(light.kind, budget_bytes=1024), light.handlers,
                                light.repo_root, light.cache_root)
    with pytest.raises(bundling.AssetTooLarge, match="'light' is .* over the 1024 limit"):
        tight.build(tmp_path)
