"""Lambda assets and their handlers' cold imports; the intake under a storm of events for one service.

    .venv/bin/python bench/handler_bench.py [--runs 5] [--no-write]

Per kind of asset (infra/assets.py): the Lambda asset is built as `make synth` builds it (arm64 wheels
from the lock file, CPython 3.12 bytecode) and measured unzipped and zipped; its twin for this machine
(same lock, same modules, bytecode by the same interpreter) is built too, and each handler module is
imported from it alone in a fresh `python -I -S` (infra/import_probe.py): the median of --runs is the
cold import (interpreter start-up not counted; Lambda's own init and the first AWS client creation come
on top). Storm: 500 EventBridge events for one service through the intake logic against moto's Step
Functions (in-process), events per second and executions started (bench/intake_storm.py has the mixed
storm for many services). Writes the "Lambda asset" and "Serverless runtime" sections of BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.benchmarks_md import BENCHMARKS_MD, write_section  # noqa: E402
from infra import bundling  # noqa: E402
from infra.assets import ASSET_KINDS, MB  # noqa: E402
from infra.import_probe import import_in_isolation  # noqa: E402
from infra.settings import Settings  # noqa: E402
from infra.stack import asset_builds, function_specs  # noqa: E402

ASSET_SECTION = "## Lambda asset"
RUNTIME_SECTION = "## Serverless runtime"
# Cold import budgets: the functions that answer a person or an event at once, and the rest.
LIGHT_BUDGET_S, HEAVY_BUDGET_S = 0.300, 1.5
BUDGETS = {"light": LIGHT_BUDGET_S, "workflow": HEAVY_BUDGET_S, "graph": HEAVY_BUDGET_S}


@dataclass
class AssetRow:
    kind: str
    unzipped: int
    bytecode: int
    zipped: int
    largest: list[tuple[str, int]]
    imports: dict[str, tuple[float, float]]  # handler module -> (fastest, median) seconds


def zipped_size(tree: Path) -> int:
    with tempfile.TemporaryFile() as out:
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for path in sorted(tree.rglob("*")):
                if path.is_file():
                    archive.write(path, path.relative_to(tree))
        return out.tell()


def largest_parts(tree: Path, count: int = 4) -> list[tuple[str, int]]:
    sizes = {p.name: (bundling.directory_size(p) if p.is_dir() else p.stat().st_size) for p in tree.iterdir()
             if not p.name.endswith(".dist-info")}
    return sorted(sizes.items(), key=lambda item: -item[1])[:count]


def measure(kind: str, build: bundling.AssetBuild, python: str, runs: int, work: Path) -> AssetRow:
    tree = work / f"lambda-{kind}"
    unzipped = build.build(tree, python=bundling.lambda_bytecode_python())
    bytecode = sum(p.stat().st_size for p in tree.rglob("*.pyc"))
    twin = work / f"twin-{kind}"
    build.build(twin, bundling.host_target(bundling.python_version_of(python)), python=python)
    imports = {}
    for module in build.handlers:
        samples = [import_in_isolation(python, twin, module).seconds for _ in range(runs)]
        imports[module] = (min(samples), statistics.median(samples))
        print(f"{kind} {module}: fastest {min(samples) * 1000:.0f} ms, median {statistics.median(samples) * 1000:.0f} ms")
    return AssetRow(kind, unzipped, bytecode, zipped_size(tree), largest_parts(tree), imports)


def asset_section(rows: list[AssetRow], python: str, runs: int) -> str:
    version = bundling.python_version_of(python)
    lines = [
        ASSET_SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/handler_bench.py` ({os.cpu_count()} CPUs, "
        f"{platform.machine()}, load average {os.getloadavg()[0]:.1f} at the end): one code asset per kind of function (`infra/assets.py`), built as `make synth` builds "
        "it, without Docker: the kind's lock file (`requirements/lambda-<kind>.lock`, exact versions and hashes, "
        "`make lock`) installed by pip with `--require-hashes` as manylinux aarch64 wheels for CPython 3.12, the project "
        "modules its handlers import (import graph; never the sandbox or the demo), compiled to 3.12 bytecode "
        "(hash-based `.pyc` that Lambda loads without checking the sources; built without bytecode, and each cold "
        f"start compiles what it imports, when no Python 3.12 is found). Cold import = `import <handler>` in a fresh "
        f"`python{version} -I -S` that sees only the asset (its twin for this machine: same lock and modules, "
        f"bytecode), fastest / median of {runs} runs (the machine is shared: the fastest run is the one least "
        "disturbed, and the budget is checked on it); interpreter start-up, Lambda's init and the first AWS client "
        "come on top. "
        "Zipped = zip -9 of the asset (uploaded through the CDK asset bucket, so Lambda's 50 MB direct-upload limit "
        "does not apply).", "",
        "| asset | functions | unzipped (bytecode) | zipped | largest parts | cold import | budget |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in rows:
        functions = ", ".join(m.rpartition(".")[2] for m in row.imports)
        parts = ", ".join(f"{name} {size / MB:.0f} MB" for name, size in row.largest)
        imports = ", ".join(f"{m.rpartition('.')[2]} {fast * 1000:.0f} / {median * 1000:.0f} ms"
                            for m, (fast, median) in row.imports.items())
        over = [m.rpartition(".")[2] for m, (fast, _) in row.imports.items() if fast > BUDGETS[row.kind]]
        verdict = f"OVER: {', '.join(over)}" if over else "met"
        lines.append(f"| {row.kind} | {functions} | {row.unzipped / MB:.1f} MB ({row.bytecode / MB:.1f} MB) | "
                     f"{row.zipped / MB:.1f} MB | {parts} | {imports} | import <= {BUDGETS[row.kind] * 1000:.0f} ms: "
                     f"{verdict} |")
    budgets = ", ".join(f"{k.name} {k.budget_bytes / MB:.0f} MB" for k in ASSET_KINDS.values())
    lines += ["", f"Asset budgets (unzipped, bytecode included; the build fails above them): {budgets}; Lambda's own "
              "limit is 250 MiB.", ""]
    return "\n".join(lines)


def storm(events: int = 500) -> dict[str, float]:
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"})
    import boto3
    from moto import mock_aws

    from agents.aws_ecs_service.incidents.intake import Normaliser
    from agents.aws_ecs_service.incidents.settings import RuntimeSettings
    from agents.aws_ecs_service.incidents.starter import Intake
    from bench.intake_storm import START, task_stopped_event

    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(name="bench", roleArn="arn:aws:iam::123456789012:role/x", definition=json.dumps(
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}))["stateMachineArn"]
        intake = Intake(sfn, arn, RuntimeSettings().workflow_knobs(), Normaliser())
        batch = [task_stopped_event("api", f"e{i}", START, task=i) for i in range(events)]
        start = time.perf_counter()
        outcomes = [intake.handle(e) for e in batch]
        elapsed = time.perf_counter() - start
        executions = len(sfn.list_executions(stateMachineArn=arn)["executions"])
    return {"events": events, "seconds": elapsed, "per_s": events / elapsed, "executions": executions,
            "started": sum(o["outcome"] == "started" for o in outcomes)}


def runtime_section(storm_result: dict[str, float]) -> str:
    return "\n".join([
        RUNTIME_SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/handler_bench.py` ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}). Cold imports of every handler: see Lambda asset.", "",
        f"Intake storm: {storm_result['events']} ECS Task State Change events for one service through the intake "
        f"logic (moto Step Functions in-process): {storm_result['seconds'] * 1000:.0f} ms, "
        f"{storm_result['per_s']:.0f} events/s, {storm_result['executions']} execution started (target: 1).", ""])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)
    python = bundling.bundle_python() or sys.executable
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="handler-bench-") as work:
        rows = [measure(kind, build, python, args.runs, Path(work))
                for kind, build in asset_builds(function_specs(settings), settings).items()]
    storm_result = storm()
    print(f"storm: {storm_result}")
    texts = [asset_section(rows, python, args.runs), runtime_section(storm_result)]
    if args.no_write:
        print("\n\n".join(texts))
    else:
        for text in texts:
            write_section(BENCHMARKS_MD, text)
        print(f"updated {BENCHMARKS_MD}")
    over = [m for row in rows for m, (fast, _) in row.imports.items() if fast > BUDGETS[row.kind]]
    too_big = [row.kind for row in rows if row.unzipped > ASSET_KINDS[row.kind].budget_bytes]
    return 1 if over or too_big or storm_result["executions"] != 1 else 0


if __name__ == "__main__":
    sys.exit(main())
