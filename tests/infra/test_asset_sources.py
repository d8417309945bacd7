"""Which project modules an asset ships comes from its handlers' imports, and a forbidden import fails the build.

Synthetic projects in a temporary folder: no wheels are installed, so these run in milliseconds.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from infra.assets import ASSET_KINDS
from infra.bundling import AssetBuild, UnshippableImport


def _project(root: Path, files: dict[str, str]) -> Path:
    for name, text in {"functions/__init__.py": "", "agents/__init__.py": "", "agents/svc/__init__.py": "",
                       **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def _light(root: Path, *handlers: str) -> AssetBuild:
    return AssetBuild(ASSET_KINDS["light"], handlers, root, root / "cache")


def test_a_lazy_import_of_langchain_on_the_intakes_path_fails_the_build_naming_the_chain(tmp_path):
    root = _project(tmp_path, {
        "functions/intake.py": "import boto3\nfrom agents.svc import starter\n",
        "agents/svc/starter.py": "from . import explain\n",
        "agents/svc/explain.py": "def explain():\n    from langchain_core.messages import HumanMessage\n",
    })
    tree = tmp_path / "tree"
    (tree / "boto3").mkdir(parents=True)
    with pytest.raises(UnshippableImport) as raised:
        _light(root, "functions.intake").check_imports_installed(tree)
    message = str(raised.value)
    assert "functions.intake -> agents.svc.starter -> agents.svc.explain imports langchain_core" in message
    assert "'light' asset does not install" in message


def test_a_handler_that_reaches_the_sandbox_fails_the_build(tmp_path):
    root = _project(tmp_path, {
        "functions/intake.py": "from agents.aws_ecs_service.sandbox import server\n",
        "agents/aws_ecs_service/__init__.py": "", "agents/aws_ecs_service/sandbox/__init__.py": "",
        "agents/aws_ecs_service/sandbox/server.py": "",
    })
    with pytest.raises(UnshippableImport, match="would ship agents.aws_ecs_service.sandbox"):
        _light(root, "functions.intake").source_files()


def test_only_reachable_modules_and_their_packages_data_are_shipped(tmp_path):
    root = _project(tmp_path, {
        "functions/intake.py": "from agents.svc.rules import RULES\n",
        "agents/svc/rules.py": "RULES = []\n",
        "agents/svc/taxonomy.json": "{}",
        "agents/svc/graph.py": "import langgraph\n",
        "agents/other/__init__.py": "", "agents/other/data.yaml": "a: 1",
    })
    shipped = {str(p) for p in _light(root, "functions.intake").source_files()}
    assert shipped == {"functions/__init__.py", "functions/intake.py", "agents/__init__.py",
                       "agents/svc/__init__.py", "agents/svc/rules.py", "agents/svc/taxonomy.json"}


def test_type_checking_optional_and_lazily_reexported_imports_are_not_followed_unless_asked_for(tmp_path):
    root = _project(tmp_path, {
        "functions/intake.py": "from agents.svc import events\n",
        "functions/chat.py": "from agents.svc import create_agent\n",
        "agents/svc/__init__.py": ("def __getattr__(name):\n    from .agent import create_agent\n"
                                   "    return create_agent\n"),
        "agents/svc/agent.py": "import langgraph\ncreate_agent = None\n",
        "agents/svc/events.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import langchain_core\n"
                                 "try:\n    import orjson\nexcept ImportError:\n    orjson = None\n"),
    })
    intake = _light(root, "functions.intake").sources
    assert "agents.svc.agent" not in intake.modules and intake.third_party == {}
    chat = _light(root, "functions.chat").sources
    assert "agents.svc.agent" in chat.modules and set(chat.third_party) == {"langgraph"}
