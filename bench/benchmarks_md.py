"""BENCHMARKS.md: each bench script owns one `## ` section and replaces only that one."""
from __future__ import annotations

import re
from pathlib import Path

BENCHMARKS_MD = Path(__file__).resolve().parent.parent / "BENCHMARKS.md"


def write_section(path: Path, text: str) -> None:
    """Replace the section whose heading is the first line of `text` (up to the next `## `), or append it."""
    heading = text.splitlines()[0]
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with its '## ' heading, not {heading!r}")
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old, count=1) if pattern.search(old) \
        else old.rstrip() + "\n\n" + text.rstrip("\n") + "\n"
    path.write_text(new)
