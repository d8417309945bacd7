"""Which project modules a handler can import, and which third-party packages those modules import.

Read from the sources (ast), not by importing them: the Lambda asset is built for another platform.
Every import counts, at module level or inside a function (a lazy import runs in Lambda too), except
  - imports under `if TYPE_CHECKING:` (never run),
  - imports inside `try: ... except ImportError` (the module copes without them),
  - a package's lazy re-exports in a module-level `__getattr__` (PEP 562), followed only when an
    importer asks the package for a name that is not one of its submodules.
"""
from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name
    names: tuple[str, ...] = ()  # `from module import names`


@dataclass
class ModuleImports:
    imports: list[Import] = field(default_factory=list)
    reexports: list[Import] = field(default_factory=list)  # inside a module-level __getattr__


@dataclass
class ImportClosure:
    modules: dict[str, Path]  # project module -> its file
    # third-party top-level package -> the project modules that import it
    third_party: dict[str, set[str]]
    # project module -> the module that first imported it (to explain how a module was reached)
    reached_from: dict[str, str]

    def chain(self, module: str) -> list[str]:
        """The import path from a handler to `module`."""
        path = [module]
        while path[-1] in self.reached_from:
            path.append(self.reached_from[path[-1]])
        return path[::-1]


class ProjectGraph:
    def __init__(self, root: Path, packages: tuple[str, ...]):
        self.root = root
        self.packages = packages
        self._parsed: dict[str, ModuleImports] = {}

    def file_of(self, module: str) -> Path | None:
        base = self.root.joinpath(*module.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def is_project(self, module: str) -> bool:
        return module.split(".")[0] in self.packages

    def closure(self, roots: list[str]) -> ImportClosure:
        modules: dict[str, Path] = {}
        third_party: dict[str, set[str]] = {}
        reached_from: dict[str, str] = {}
        todo = [(root, None) for root in roots]
        while todo:
            module, importer = todo.pop()
            if module in modules:
                continue
            path = self.file_of(module)
            if path is None:
                raise ModuleNotFoundError(f"{module} (imported by {importer or 'the handler list'}) is not in "
                                          f"{', '.join(self.packages)}")
            modules[module] = path
            if importer:
                reached_from[module] = importer
            parents = [".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)]
            todo += [(parent, module) for parent in parents]
            for imported in self._parse(module, path).imports:
                for target in self._targets(imported):
                    if self.is_project(target):
                        todo.append((target, module))
                    elif target.split(".")[0] not in STDLIB:
                        third_party.setdefault(target.split(".")[0], set()).add(module)
        return ImportClosure(modules, third_party, reached_from)

    def _targets(self, imported: Import) -> list[str]:
        """The modules an import statement loads: the module, and each imported name that is a submodule (or
        the package's lazy re-exports, for a name that is not)."""
        out = [imported.module]
        if not self.is_project(imported.module):
            return out
        for name in imported.names:
            submodule = f"{imported.module}.{name}"
            if self.file_of(submodule):
                out.append(submodule)
            elif (path := self.file_of(imported.module)) and path.name == "__init__.py":
                out += [t for r in self._parse(imported.module, path).reexports for t in self._targets(r)]
        return out

    def _parse(self, module: str, path: Path) -> ModuleImports:
        if module not in self._parsed:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            self._parsed[module] = _ImportCollector(package).collect(ast.parse(path.read_text(), str(path)))
        return self._parsed[module]


class _ImportCollector(ast.NodeVisitor):
    def __init__(self, package: str):
        self.package = package
        self.found = ModuleImports()
        self._into = self.found.imports

    def collect(self, tree: ast.Module) -> ModuleImports:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                self._into = self.found.reexports
                self.visit(node)
                self._into = self.found.imports
            else:
                self.visit(node)
        return self.found

    def visit_If(self, node: ast.If) -> None:
        if "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        optional = any(_catches_import_error(h) for h in node.handlers)
        for child in node.body:
            if not optional:
                self.visit(child)
        for child in [*node.handlers, *node.orelse, *node.finalbody]:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self._into += [Import(alias.name) for alias in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - (node.level - 1)]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        self._into.append(Import(module, tuple(a.name for a in node.names if a.name != "*")))


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return False
    names = [handler.type] if not isinstance(handler.type, ast.Tuple) else list(handler.type.elts)
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError") for n in names)
