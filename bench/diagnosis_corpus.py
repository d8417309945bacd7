"""Diagnosis coverage: the documented-failure corpus and the public user reports, classified.

    .venv/bin/python bench/diagnosis_corpus.py [--no-write]

Each entry of tests/corpus/documented_failures.json (every ECS failure text AWS documents, with its
source page) and tests/corpus/user_reports.json (public reports with a clear resolution) is placed
where ECS shows it (stopped reason, container reason, service event, deployment reason, ...) and
classified; the score is how many name the expected taxonomy id. Prints the misses and replaces the
"Diagnosis coverage" section of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from agents.aws_ecs_service.diagnosis import taxonomy  # noqa: E402
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402
from tests.corpus.documented import DOCUMENTED, REPORTS, classified, text  # noqa: E402

SECTION = "## Diagnosis coverage"


def score(entries: list[dict]) -> tuple[int, list[tuple[dict, str]]]:
    misses = []
    for entry in entries:
        ok, found = classified(entry)
        if not ok:
            misses.append((entry, found))
    return len(entries) - len(misses), misses


def section(documented: tuple[int, list], reports: tuple[int, list]) -> str:
    pages = Counter(e["source"].split("#")[0] for e in DOCUMENTED)
    wheres = Counter(e["where"] for e in DOCUMENTED + REPORTS)
    lines = [
        SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/diagnosis_corpus.py`: every entry placed where ECS shows "
        "it and classified by the rules (no model).", "",
        "| corpus | entries | classified to the expected cause |", "| --- | --- | --- |",
        f"| AWS documentation texts, verbatim (`tests/corpus/documented_failures.json`, {len(pages)} pages) | "
        f"{len(DOCUMENTED)} | {documented[0]}/{len(DOCUMENTED)} |",
        f"| public user reports with a resolution (`tests/corpus/user_reports.json`) | {len(REPORTS)} | "
        f"{reports[0]}/{len(REPORTS)} |", "",
        "Where the texts appear: " + ", ".join(f"{w} {n}" for w, n in wheres.most_common()) + ". "
        f"Taxonomy: {len(taxonomy.cause_ids())} cause ids (the shared taxonomy's plus the documented failures that had none).",
    ]
    for name, misses in (("documentation", documented[1]), ("reports", reports[1])):
        for entry, found in misses:
            lines.append(f"- miss ({name}): `{text(entry)[:120]}` -> {found}, expected {entry['expected']}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    documented, reports = score(DOCUMENTED), score(REPORTS)
    report = section(documented, reports)
    print(report)
    if not args.no_write:
        write_section(BENCHMARKS_MD, report)
        print(f"updated {BENCHMARKS_MD}")
    return 0 if not documented[1] and not reports[1] else 1


if __name__ == "__main__":
    sys.exit(main())
