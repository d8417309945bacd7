"""The real Lambda asset: pip-bundled for arm64 without Docker, under Lambda's 250 MB unzipped limit."""
from __future__ import annotations

import subprocess

import pytest

from infra import bundling
from infra.settings import REPO_ROOT, Settings


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    out = tmp_path_factory.mktemp("asset")
    bundling.PipLocalBundling(REPO_ROOT, Settings().lambda_deps_cache).try_bundle(str(out))
    return out


def test_bundle_has_sources_and_aarch64_wheels_and_fits_lambda(bundle):
    size = bundling.directory_size(bundle)
    print(f"\nLambda asset: {size / 1e6:.1f} MB unzipped (limit {bundling.LAMBDA_UNZIPPED_LIMIT / 1e6:.1f} MB)")
    assert size < bundling.LAMBDA_UNZIPPED_LIMIT
    assert (bundle / "functions" / "__init__.py").is_file()
    assert (bundle / "agents" / "aws_ecs_service" / "diagnosis" / "taxonomy.json").is_file()
    for package in ("langgraph", "aws_lambda_powertools", "aws_xray_sdk", "psycopg", "pydantic_core"):
        assert (bundle / package).is_dir(), package
    binaries = [p.name for p in (bundle / "pydantic_core").glob("*.so")]
    assert binaries and all("aarch64" in name for name in binaries)
    assert not (bundle / "moto").exists()
    assert not list(bundle.rglob("*.cpython-311.pyc")), "the development tree's bytecode leaked into the asset"


def _pyc_flags(path) -> int:
    return int.from_bytes(path.read_bytes()[4:8], "little")


def test_bundle_ships_bytecode_for_the_runtime_when_a_312_interpreter_exists(bundle):
    python = bundling.bundle_python()
    compiled = list(bundle.rglob("*.pyc"))
    if python is None:
        assert not compiled
        return
    for module in ("agents/aws_ecs_service/__pycache__/config.cpython-312.pyc",
                   "functions/__pycache__/intake.cpython-312.pyc", "boto3/__pycache__/session.cpython-312.pyc",
                   "pydantic/__pycache__/main.cpython-312.pyc"):
        assert (bundle / module).is_file(), module
        assert _pyc_flags(bundle / module) == 0b01, "hash-based and never checked against the source"
    # The 3.12 interpreter really loads the shipped bytecode: compile nothing more, even with writes allowed
    # (pure-Python modules only: the asset's binary wheels are for arm64).
    probe = "import sys; sys.dont_write_bytecode = False; import functions, boto3.session; print('ok')"
    before = len(list(bundle.rglob("*.pyc")))
    out = subprocess.run([python, "-c", probe], cwd=bundle, capture_output=True, text=True,
                         env={"PYTHONPATH": str(bundle)})
    assert out.stdout.strip() == "ok", out.stderr
    assert len(list(bundle.rglob("*.pyc"))) == before


def test_without_a_312_interpreter_the_asset_builds_without_bytecode(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(bundling, "_interpreter_candidates", lambda: ["/nonexistent/python3.12"])
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text("X = 1\n")
    assert bundling.compile_bytecode(tmp_path) is False
    assert not list(tmp_path.rglob("*.pyc"))
    assert "no Python 3.12 found" in capsys.readouterr().err


def test_an_oversized_asset_fails_the_build(tmp_path, monkeypatch, bundle):
    monkeypatch.setattr(bundling, "LAMBDA_UNZIPPED_LIMIT", 1024)
    with pytest.raises(bundling.AssetTooLarge, match="over the 1024 limit"):
        bundling.PipLocalBundling(REPO_ROOT, Settings().lambda_deps_cache).try_bundle(str(tmp_path))


def test_lambda_requirements_are_the_runtime_dependencies_minus_cli_only_ones():
    requirements = bundling.lambda_requirements(REPO_ROOT / "pyproject.toml")
    names = " ".join(requirements)
    assert "langgraph-checkpoint-postgres" in names and "aws-lambda-powertools" in names
    assert "moto" not in names and "sqlite" not in names
    assert "aws-xray-sdk>=2.14" in requirements
