"""The Lambda assets install exactly what the lock files pin, with hashes, and synth refuses a stale lock."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from infra.assets import ASSET_KINDS, StaleLock, check_lock_current, lock_inputs
from infra.bundling import AssetBuild, host_target
from infra.settings import REPO_ROOT


def _copy_project(tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(REPO_ROOT / "requirements", tmp_path / "requirements")
    return tmp_path


def test_the_committed_locks_were_made_from_pyproject_as_it_is(tmp_path):
    for kind in ASSET_KINDS.values():
        lock = check_lock_current(kind, REPO_ROOT)
        assert "--hash=sha256:" in lock.read_text()


def test_a_range_changed_in_pyproject_makes_every_lock_that_uses_it_stale(tmp_path):
    root = _copy_project(tmp_path)
    pyproject = root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"boto3>=1.35"', '"boto3>=1.36"'))
    for kind in ASSET_KINDS.values():
        with pytest.raises(StaleLock, match="run `make lock`"):
            check_lock_current(kind, root)


def test_a_missing_lock_is_refused(tmp_path):
    root = _copy_project(tmp_path)
    (root / "requirements" / "lambda-light.lock").unlink()
    with pytest.raises(StaleLock, match="lambda-light.lock is missing"):
        check_lock_current(ASSET_KINDS["light"], root)


def test_lock_inputs_take_each_distribution_at_the_range_pyproject_declares():
    inputs = lock_inputs(ASSET_KINDS["graph"], REPO_ROOT / "pyproject.toml")
    assert "psycopg[binary]>=3.2" in inputs and "aws-xray-sdk>=2.14" in inputs and "langchain-aws>=1.0" in inputs
    assert not [i for i in inputs if i.startswith(("moto", "mcp", "langgraph-checkpoint-sqlite"))]


def test_a_wheel_whose_hash_differs_from_the_lock_is_not_installed(tmp_path, capfd):
    root = _copy_project(tmp_path / "project")
    lock = root / "requirements" / "lambda-light.lock"
    text = lock.read_text()
    block = re.search(r"^jmespath==.*?(?=^\S)", text, re.S | re.M).group(0)
    lock.write_text(text.replace(block, re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, block)))
    build = AssetBuild(ASSET_KINDS["light"], (), root, tmp_path / "cache")
    with pytest.raises(subprocess.CalledProcessError):
        build.install_dependencies(host_target("3.12"))
    assert "DO NOT MATCH THE HASHES" in capfd.readouterr().err
    assert not list((tmp_path / "cache").glob("light-*/.complete"))  # nothing half-installed is reused
