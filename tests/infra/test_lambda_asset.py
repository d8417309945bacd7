"""The real Lambda asset: pip-bundled for arm64 without Docker, under Lambda's 250 MB unzipped limit."""
from __future__ import annotations

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
    assert not list(bundle.rglob("__pycache__"))


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
