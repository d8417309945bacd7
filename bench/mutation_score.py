"""Mutation testing of the safety modules and the rules/classifier with mutmut 3: the "Mutation testing" section.

    .venv/bin/python bench/mutation_score.py [--only TARGET ...] [--files GLOB ...] [--max-children N] [--no-write]
                                             [--from-last-run]

`make mutation` installs mutmut into .venv and runs this. For each target of TARGETS (source files, and the fast
tests that exercise them), a scratch copy of the checkout is made under build/mutation/<target>/ whose
pyproject.toml gets a [tool.mutmut] section naming those files, and `mutmut run` runs there: mutmut writes every
mutant into mutants/, runs the selected tests once to learn which test calls which function, then runs each mutant
against the tests of its function only (forked, `-m "not slow"`). Nothing in the checkout itself is mutated.

A mutant is killed when a test fails or times out with it; it survives when they all pass (or none calls it).
Mutants judged equivalent (no behaviour differs, so no test can tell them apart) are listed with the reason in
bench/mutation_equivalents.toml, matched by file (or a path suffix) and the mutated line before/after: a changed
line no longer matches, and its mutant counts again. Score = killed / (mutants - equivalent). `--from-last-run` reads the results
left in build/mutation/ instead of running mutmut again (after editing the equivalents, say). `--files` mutates only
the target's files that match (working on one module); the section it prints is then about those files alone, so it
leaves BENCHMARKS.md as it is. The section lists
every survivor up to SHOWN_SURVIVORS per target; the printed text lists them all.

mutmut mutates code inside functions and methods only: module-level data (the rule table's patterns and
thresholds, constants) and decorated functions other than static and class methods (properties, context managers)
are not mutated, so behaviour tests must pin them (tests/unit/test_guarded_behaviours_*.py).
PostgreSQL must be running (the approval store's tests; REQUIRE_POSTGRES=1 makes a missing server fail them).
"""
from __future__ import annotations

import argparse
import ast
import datetime as dt
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402

SECTION = "## Mutation testing"
SCRATCH = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "bench" / "mutation_equivalents.toml"
SAFETY, RULES = "safety", "rules/classifier"
GOALS = {SAFETY: 0.90, RULES: 0.80}
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
SHOWN_SURVIVORS = 60  # per target, in BENCHMARKS.md


@dataclass(frozen=True)
class Target:
    name: str
    group: str
    sources: tuple[str, ...]  # globs under the checkout
    tests: tuple[str, ...]    # globs: the fast tests that exercise these sources
    markers: str = "not slow"  # which of those tests run ("": all, for I/O code only slower tests reach)


TARGETS = (
    # Globs, so a module that moves or splits (main's domain/ and analyzers/ layout included) is still found.
    Target("write-policy", SAFETY, ("agents/aws_ecs_service/domain/write_policy.py",),
           ("tests/unit/test_write_policy.py", "tests/unit/test_write_policy_reasons.py")),
    # the guard's I/O: only its moto-world tests (slow, about 1 s each) reach it
    Target("policy-guard", SAFETY, ("agents/aws_ecs_service/aws/policy_guard.py",),
           ("tests/unit/test_policy_guard*.py",), markers=""),
    Target("plan-hash", SAFETY, ("agents/aws_ecs_service/domain/plan.py", "agents/aws_ecs_service/domain/target.py"),
           ("tests/unit/test_planner.py", "tests/unit/test_write_policy.py", "tests/unit/test_plan_identity.py")),
    Target("approval-links", SAFETY, ("agents/aws_ecs_service/incidents/approval_links.py",),
           ("tests/unit/test_guarded_behaviours_approval_links.py",)),
    Target("approval-store", SAFETY, ("agents/aws_ecs_service/incidents/approval_store.py",),
           ("tests/integration/test_incident_stores.py", "tests/integration/test_guarded_behaviours_approval_store*.py")),
    Target("intake", SAFETY, ("agents/aws_ecs_service/incidents/intake.py", "agents/aws_ecs_service/domain/incident_keys.py",
                              "agents/aws_ecs_service/domain/incident.py"),
           ("tests/unit/test_intake.py", "tests/unit/test_intake_fuzz.py", "tests/unit/test_guarded_behaviours_intake.py",
            "tests/unit/test_guarded_behaviours_incident_keys.py", "tests/unit/test_incident_domain.py",
            "tests/integration/test_incident_identity.py")),
    Target("redaction", SAFETY, ("agents/aws_ecs_service/diagnosis/redaction.py",
                                 "agents/aws_ecs_service/diagnosis/secret_*.py"),
           ("tests/unit/test_redaction*.py", "tests/unit/test_guarded_behaviours_redaction*.py",
            "tests/integration/test_redaction_leaks.py")),
    Target("verifier", SAFETY, ("agents/aws_ecs_service/operations/verifier.py",),
           ("tests/unit/test_guarded_behaviours_verifier*.py",)),
    Target("rules-classifier", RULES, tuple(f"agents/aws_ecs_service/diagnosis/{name}" for name in (
        "rules.py", "classifier.py", "analyzers/*.py", "decision.py", "findings.py", "revisions.py", "actions.py",
        "view.py")),
           ("tests/unit/test_rules.py", "tests/unit/test_classifier.py", "tests/unit/test_planner.py",
            "tests/unit/test_cause_records.py", "tests/unit/test_documented_corpus.py", "tests/unit/test_triage_gaps.py",
            "tests/unit/test_guarded_behaviours_classifier.py", "tests/unit/test_guarded_behaviours_diagnosis_*.py")),
)


@dataclass
class Mutant:
    name: str
    status: str
    file: str = ""
    line: int = 0
    before: str = ""
    after: str = ""
    equivalent: str = ""  # the reason, when judged equivalent

    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class TargetResult:
    target: Target
    sources: list[str]
    tests: list[str]
    mutants: list[Mutant] = field(default_factory=list)

    def count(self, *statuses: str) -> int:
        return sum(1 for m in self.mutants if m.status in statuses and not m.equivalent)

    @property
    def killed(self) -> int:
        return self.count(*KILLED)

    @property
    def equivalent(self) -> int:
        return sum(1 for m in self.mutants if m.equivalent)

    @property
    def counted(self) -> int:
        return len(self.mutants) - self.equivalent

    @property
    def survivors(self) -> list[Mutant]:
        return [m for m in self.mutants if m.status not in KILLED and not m.equivalent]


def matching(patterns: tuple[str, ...]) -> list[str]:
    return sorted({str(p.relative_to(ROOT)) for pattern in patterns for p in ROOT.glob(pattern)
                   if p.is_file() and p.name != "__init__.py"})


def _scratch(target: Target, sources: list[str], tests: list[str]) -> Path:
    """A copy of what the tests need, with a pyproject.toml that tells mutmut what to mutate and which tests to run."""
    where = SCRATCH / target.name
    shutil.rmtree(where, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("agents", "functions", "tests"):
        shutil.copytree(ROOT / folder, where / folder, ignore=ignore)
    config = "\n".join([
        "", "[tool.mutmut]",
        'source_paths = ["agents/"]',
        'also_copy = ["functions/"]',
        f"only_mutate = {sources!r}".replace("'", '"'),
        f"pytest_add_cli_args_test_selection = {tests!r}".replace("'", '"'),
        "pytest_add_cli_args = " + str(["-p", "no:cacheprovider", *(["-m", target.markers] if target.markers else [])])
        .replace("'", '"'), ""])
    (where / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + config)
    return where


def _mutmut(where: Path, *args: str, log: Path | None = None) -> str:
    """mutmut's output (or, with `log`, its exit status as text, the output going to that file)."""
    env = dict(os.environ, REQUIRE_POSTGRES="1",
               ECS_AGENT_SHARED=os.environ.get("ECS_AGENT_SHARED", str(ROOT.parent / "shared")))
    exe = Path(sys.executable).with_name("mutmut")
    if log is None:
        return subprocess.run([str(exe), *args], cwd=where, env=env, capture_output=True, text=True, check=True).stdout
    with log.open("w") as out:
        return str(subprocess.run([str(exe), *args], cwd=where, env=env, stdout=out, stderr=subprocess.STDOUT).returncode)


_NAME = re.compile(r"^(?P<module>.+?)\.x(?:ǁ(?P<cls>[^ǁ]+)ǁ|_)(?P<func>.+)__mutmut_\d+$")


def _function_span(source: str, cls: str | None, func: str) -> tuple[int, int]:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and cls and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and item.name == func:
                    return min([item.lineno] + [d.lineno for d in item.decorator_list]), item.end_lineno or item.lineno
        if not cls and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == func:
            return min([node.lineno] + [d.lineno for d in node.decorator_list]), node.end_lineno or node.lineno
    return 1, len(source.splitlines())


def _diffs(where: Path, names: list[str]) -> dict[str, str]:
    """`mutmut show`'s diff of each mutant's function, in this process (one `mutmut show` each takes a second).
    mutmut reads its configuration from the working directory when imported and caches it: hence the chdir."""
    here = Path.cwd()
    os.chdir(where)
    try:
        from mutmut.configuration import reset_config
        from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant

        reset_config()
        return {name: get_diff_for_mutant(name, path=find_mutant(name).path) for name in names}
    finally:
        os.chdir(here)


def _locate(where: Path, mutant: Mutant, diff_text: str) -> None:
    """File, line and the mutated line before/after, from the diff of the mutated function."""
    diff = diff_text.splitlines()
    removed = [line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")]
    mutant.before, mutant.after = " ".join(removed), " ".join(added)
    found = _NAME.match(mutant.name)
    if not found:
        return
    mutant.file = found["module"].replace(".", "/") + ".py"
    lines = (where / mutant.file).read_text().splitlines()
    first, last = _function_span("\n".join(lines), found["cls"], found["func"])
    mutant.line = next((n for n in range(first, last + 1) if removed and lines[n - 1].strip() == removed[0]), first)


def _equivalents() -> list[dict[str, str]]:
    return tomllib.loads(EQUIVALENTS.read_text()).get("equivalent", []) if EQUIVALENTS.exists() else []


def run_target(target: Target, max_children: int, from_last_run: bool = False,
               files: list[str] | None = None) -> TargetResult | None:
    sources, tests = matching(target.sources), matching(target.tests)
    if files:
        sources = [s for s in sources if any(fnmatch.fnmatch(s, pattern) for pattern in files)]
    where = SCRATCH / target.name
    if not sources or not tests or (from_last_run and not (where / "mutants").is_dir()):
        why = "no source files match" if not sources else "no test files match" if not tests else "no last run"
        print(f"{target.name}: skipped ({why})", flush=True)
        return None
    if not from_last_run:
        print(f"{target.name}: mutating {', '.join(sources)} against {len(tests)} test file(s)", flush=True)
        where = _scratch(target, sources, tests)
        log = where / "mutmut.log"
        if _mutmut(where, "run", "--max-children", str(max_children), log=log) != "0":
            # e.g. "could not find any test case for any mutant": then every mutant stays unchecked, a survivor
            print(f"{target.name}: mutmut stopped early: {log.read_text().strip().splitlines()[-1][:300]}", flush=True)
    result = TargetResult(target, sources, tests)
    for line in _mutmut(where, "results", "--all", "true").splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name:
            result.mutants.append(Mutant(name, "no tests" if status == "not checked" else status))
    judged = _equivalents()
    unkilled = [m for m in result.mutants if m.status not in KILLED]
    diffs = _diffs(where, [m.name for m in unkilled])
    for mutant in unkilled:
        _locate(where, mutant, diffs[mutant.name])
        # `file` may be a path suffix ("approval_links.py"), so an entry survives the module moving
        mutant.equivalent = next((e["reason"] for e in judged if mutant.file.endswith(e["file"])
                                  and e["before"].strip() == mutant.before and e["after"].strip() == mutant.after), "")
    print(f"{target.name}: {result.killed}/{result.counted} killed ({result.equivalent} equivalent), "
          f"{len(result.survivors)} survivors", flush=True)
    return result


def _score(killed: int, counted: int) -> str:
    return f"{100 * killed / counted:.1f} %" if counted else "n/a"


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def _change(before: str, after: str, context: int = 30) -> str:
    """`…what changed…` -> `…into what…`: the two lines cut to the part that differs and some context."""
    same = 0
    while same < min(len(before), len(after)) and before[same] == after[same]:
        same += 1
    tail = 0
    while tail < min(len(before), len(after)) - same and before[-1 - tail] == after[-1 - tail]:
        tail += 1
    start = max(0, same - context)

    def cut(text: str) -> str:
        end = min(len(text), len(text) - tail + context)
        return ("…" if start else "") + text[start:end] + ("…" if end < len(text) else "")

    return f"{_code(cut(before))} -> {_code(cut(after))}"


def _survivor_lines(r: TargetResult, shown: int | None) -> list[str]:
    if not r.survivors:
        return []
    if all(m.status == "no tests" for m in r.survivors):
        return [f"- {r.target.name}: no fast test calls its code, so none of its {len(r.survivors)} mutants was "
                "checked"]
    statuses = Counter(m.status for m in r.survivors)
    lines = ["", f"{r.target.name} ({', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}):", ""]
    lines += [f"- {m.where()}: {_change(m.before, m.after)}" + ("" if m.status == "survived" else
                                                                        f" ({m.status})")
              for m in r.survivors[:shown]]
    if shown is not None and len(r.survivors) > shown:
        lines.append(f"- ... and {len(r.survivors) - shown} more: `.venv/bin/python bench/mutation_score.py "
                     f"--from-last-run --only {r.target.name} --no-write` lists them all")
    return lines


def render(results: list[TargetResult], shown: int | None = None) -> str:
    version = metadata.version("mutmut")
    lines = [SECTION, "",
             f"`make mutation` (bench/mutation_score.py, mutmut {version}), run {dt.date.today().isoformat()}: every "
             "mutant of a module against the fast tests (`-m \"not slow\"`) that exercise it. Score = killed / "
             "(mutants - equivalent); goals: safety modules >= 90 %, rules and classifier >= 80 %. mutmut mutates "
             "the code inside functions and methods; it leaves module-level data (the rule table, constants) and "
             "decorated functions other than static and class methods (properties such as `Plan.plan_hash`) "
             "alone.", "",
             "| group | target | mutated files | test files | mutants | killed | survived | equivalent | score |",
             "|---|---|---|---|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r.target.group} | {r.target.name} | {', '.join(Path(s).name for s in r.sources)} | "
                     f"{len(r.tests)} | {len(r.mutants)} | {r.killed} | {len(r.survivors)} | {r.equivalent} | "
                     f"{_score(r.killed, r.counted)} |")
    for group in (SAFETY, RULES):
        mine = [r for r in results if r.target.group == group]
        if mine:
            killed, counted = sum(r.killed for r in mine), sum(r.counted for r in mine)
            lines.append(f"| **{group}** | **all** | | | {sum(len(r.mutants) for r in mine)} | {killed} | "
                         f"{sum(len(r.survivors) for r in mine)} | {sum(r.equivalent for r in mine)} | "
                         f"**{_score(killed, counted)}** (goal {GOALS[group]:.0%}) |")
    survivors = sum(len(r.survivors) for r in results)
    lines += ["", f"Survivors left ({survivors}), by target:" if survivors else "No survivors."]
    for r in results:
        lines += _survivor_lines(r, shown)
    equivalent = [m for r in results for m in r.mutants if m.equivalent]
    if equivalent:
        lines += ["", f"Judged equivalent ({len(equivalent)}, reasons in bench/mutation_equivalents.toml):", ""]
        lines += [f"- {m.where()}: {_change(m.before, m.after)}: {m.equivalent}" for m in equivalent]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=[t.name for t in TARGETS], help="run these targets only")
    parser.add_argument("--files", nargs="*", help="mutate only the target's files matching these globs (no write)")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-write", action="store_true", help="print the section, leave BENCHMARKS.md alone")
    parser.add_argument("--from-last-run", action="store_true", help="read build/mutation/ instead of running mutmut")
    args = parser.parse_args()
    results = [r for t in TARGETS if not args.only or t.name in args.only
               if (r := run_target(t, args.max_children, args.from_last_run, args.files)) is not None]
    print(render(results))
    if not args.no_write and not args.files:
        write_section(BENCHMARKS_MD, render(results, SHOWN_SURVIVORS))
    return 0


if __name__ == "__main__":
    sys.exit(main())
