"""Small Markdown builders shared by the reports. Untrusted text (logs, events) goes in code spans."""
from __future__ import annotations

from collections.abc import Iterable, Sequence


def code(text: object, limit: int = 400) -> str:
    """Inline code span that survives backticks and newlines in untrusted text."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    fence = "``" if "`" in s else "`"
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def cell(text: object) -> str:
    """Table cell text: no pipes or newlines."""
    return " ".join(str(text).split()).replace("|", "\\|")


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return lines


def bullets(items: Iterable[str]) -> list[str]:
    return [f"- {item}" for item in items]
