"""Reliability: every hardening test (`@pytest.mark.attack("<name>")`) run, its cases counted per attack or fault.

    .venv/bin/python bench/reliability.py [--no-write] [-- PYTEST_ARGS...]

Runs `pytest -m attack` in-process with a small plugin that reads each test's attack name and outcome, and for
tests that use Hypothesis the examples it ran (from Hypothesis' own run statistics, whether the @given function is
the test or is called inside it). A test counts as one case, or as its Hypothesis examples; a case held when its
test passed (in a failing Hypothesis test, the examples that passed). Prints the table and replaces the
"Reliability" section of BENCHMARKS.md. Exit status 1 when any case did not hold.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402

SECTION = "## Reliability"


@dataclass
class Case:
    attack: str
    nodeid: str
    outcome: str  # passed | failed | skipped
    tried: int
    held: int


class AttackCases:
    """pytest plugin: one Case per attack-marked test."""

    def __init__(self) -> None:
        self.cases: list[Case] = []
        self._examples: dict[str, list[dict[str, Any]]] = defaultdict(list)

    # Innermost wrapper around the test call, so Hypothesis reports its statistics here (also for @given
    # functions called inside a test, which Hypothesis' own plugin does not watch).
    @pytest.hookimpl(hookwrapper=True, trylast=True)
    def pytest_runtest_call(self, item: Any):
        from hypothesis.statistics import collector

        with collector.with_value(self._examples[item.nodeid].append):
            yield

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: Any, call: Any):
        report = (yield).get_result()
        marker = item.get_closest_marker("attack")
        if marker is None or not marker.args:
            return
        if report.when == "call" or (report.when == "setup" and not report.passed):
            self.cases.append(self._case(marker.args[0], item.nodeid, report.outcome))

    def _case(self, attack: str, nodeid: str, outcome: str) -> Case:
        runs = self._examples.pop(nodeid, [])
        statuses = [case["status"] for stats in runs for phase, found in stats.items() if phase.endswith("-phase")
                    for case in found.get("test-cases", [])]
        passing, failing = statuses.count("valid"), statuses.count("interesting")
        tried = passing + failing if runs else 1
        if outcome == "passed":
            held = tried
        else:
            held = passing if failing else 0
        return Case(attack, nodeid, outcome, tried if outcome != "skipped" else 0, held)


def run(pytest_args: list[str]) -> tuple[list[Case], float]:
    plugin = AttackCases()
    started = time.perf_counter()
    pytest.main(["-m", "attack", "-p", "no:cacheprovider", "-q", "--rootdir", str(ROOT),
                 *(pytest_args or [str(ROOT / "tests")])], plugins=[plugin])
    return plugin.cases, time.perf_counter() - started


def table(cases: list[Case]) -> list[str]:
    by_attack: dict[str, list[Case]] = defaultdict(list)
    for case in cases:
        by_attack[case.attack].append(case)
    lines = ["| attack or fault | cases tried | held |", "| --- | --- | --- |"]
    for attack, found in sorted(by_attack.items()):
        ran = [c for c in found if c.outcome != "skipped"]
        tried, held = sum(c.tried for c in ran), sum(c.held for c in ran)
        tests = f"{len(ran)} test{'s' * (len(ran) != 1)}" + (f", {len(found) - len(ran)} skipped"
                                                             if len(ran) < len(found) else "")
        lines.append(f"| {attack} | {tried} ({tests}) | {held}{'' if held == tried else ' — NOT ALL'} |")
    tried, held = sum(c.tried for c in cases), sum(c.held for c in cases)
    lines.append(f"| **all** | **{tried}** ({sum(c.outcome != 'skipped' for c in cases)} tests) | **{held}** |")
    return lines


def section(cases: list[Case], seconds: float) -> str:
    return "\n".join([
        SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/reliability.py` (`make reliability`): `pytest -m attack`, "
        f"{len(cases)} tests in {seconds:.0f} s. Every hardening test is marked `@pytest.mark.attack(\"<name>\")`. "
        "Cases tried: one per test, or the examples Hypothesis ran in it (from Hypothesis' run statistics); held: "
        "the cases whose test passed (in a failing Hypothesis test, the examples that passed).", "",
        *table(cases), ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    ap.add_argument("pytest_args", nargs="*", help="instead of the whole tests/ folder (after --)")
    args = ap.parse_args(argv)
    cases, seconds = run(args.pytest_args)
    if not cases:
        print("no test marked attack ran", file=sys.stderr)
        return 1
    text = section(cases, seconds)
    print(text)
    if not args.no_write:
        write_section(BENCHMARKS_MD, text)
        print(f"updated {BENCHMARKS_MD}")
    return 0 if all(c.held == c.tried for c in cases) else 1


if __name__ == "__main__":
    sys.exit(main())
