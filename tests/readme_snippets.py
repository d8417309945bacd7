"""The README's Python blocks, run as written: top-level `await` included, as in an asyncio REPL or a notebook."""
from __future__ import annotations

import ast
import asyncio
import contextlib
import inspect
import io
import re
from typing import Any

from tests.conftest import ROOT

_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks() -> list[str]:
    return _BLOCK.findall((ROOT / "README.md").read_text())


def run_block(code: str, namespace: dict[str, Any]) -> str:
    """Run one block in `namespace` (blocks share it, as in one session); returns what it printed."""
    compiled = compile(code, "README.md", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        result = eval(compiled, namespace)  # noqa: S307 - the project's own README
        if inspect.iscoroutine(result):
            asyncio.run(result)
    return printed.getvalue()
