"""The agent's layers only look down (LAYOUT.md): every import of the agent's own modules, module-level or inside a
function, goes to the same layer or one below, and no two modules import each other. Imports under
`if TYPE_CHECKING:` name types only and are never executed, so they are not imports here."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "agents" / "aws_ecs_service"
# bottom to top; a module may import its own layer and those before it
LAYERS = [
    {"domain", "config"},
    {"aws", "sandbox"},
    {"diagnosis"},
    {"discovery", "reports"},
    {"operations"},
    {"conversation"},
    {"incidents"},
    {"interfaces", "__init__"},
]


def _layer(module: str) -> int:
    part = module.split(".")[0]
    for rank, names in enumerate(LAYERS):
        if part in names:
            return rank
    raise AssertionError(f"{module}: not in any layer of LAYOUT.md (add its package to LAYERS)")


def _module(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _imports(path: Path) -> set[str]:
    """The agent modules `path` imports (relative or absolute), as dotted names below the package."""
    here = _module(path).split(".")
    package = here[:-1] if path.name != "__init__.py" else here[:-1]
    found: set[str] = set()
    tree = ast.parse(path.read_text())
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in
                   ast.unparse(block.test) for n in ast.walk(block)}
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
                target = [*base, *(node.module.split(".") if node.module else [])]
            elif node.module and node.module.startswith("agents.aws_ecs_service"):
                target = node.module.split(".")[2:]
            else:
                continue
            names = [f"{'.'.join(target)}.{a.name}" if target else a.name for a in node.names]
            for name in names:
                if (PACKAGE / Path(*name.split("."))).with_suffix(".py").exists() or (
                        PACKAGE / Path(*name.split("."))).is_dir():
                    found.add(name)
                elif target:
                    found.add(".".join(target))
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".", 2)[2] for a in node.names if a.name.startswith("agents.aws_ecs_service.")}
    return {f for f in found if f and f != _module(path)}


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_imports_a_layer_above_its_own():
    upward = []
    for path in _sources():
        module = _module(path)
        for imported in _imports(path):
            if _layer(imported) > _layer(module):
                upward.append(f"{module} -> {imported}")
    assert upward == []


def test_no_two_modules_import_each_other():
    graph = {_module(p): {i for i in _imports(p)} for p in _sources()}
    cycles = sorted({tuple(sorted((a, b))) for a, targets in graph.items() for b in targets
                     if a in graph.get(b, set())})
    assert cycles == []


def test_the_check_sees_imports_inside_functions_and_relative_ones():
    # chat_service builds the graph inside a method; the guard imports the domain relatively
    assert "conversation.graph" in _imports(PACKAGE / "incidents" / "chat_service.py")
    assert {"domain.write_policy", "domain.target"} <= _imports(PACKAGE / "aws" / "policy_guard.py")
    assert _layer("incidents.chat_service") > _layer("conversation.graph") > _layer("operations.lifecycle")
