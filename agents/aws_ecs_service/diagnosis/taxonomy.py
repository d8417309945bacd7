"""The root-cause taxonomy (ids, titles, actions), shipped with the package."""
from __future__ import annotations

import json
from functools import cache
from pathlib import Path


@cache
def categories() -> dict[str, dict]:
    data = json.loads((Path(__file__).with_name("taxonomy.json")).read_text())
    return {c["id"]: c for c in data["categories"]}


def cause_ids() -> list[str]:
    return [cid for cid, c in categories().items() if c["kind"] == "cause"]


def title(category: str) -> str:
    return categories().get(category, {}).get("title", category)
