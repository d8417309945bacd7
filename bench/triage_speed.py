"""Speed of `ecs-agent triage`: whole-process wall time and AWS calls at a given latency per call.

    .venv/bin/python bench/triage_speed.py [--runs 5] [--latency-ms 50] [--no-write]

Each public scenario (../shared/scenarios) and the large service (bench/large_service.py) is
played by ../shared/tools/fakeaws.py (read-only) and triaged `--runs` times by the real console
script, as ../shared/tools/triage_bench.py does. Prints per-scenario medians and the summary,
checks that the triage path imports no LangChain/LangGraph, and replaces the "Triage speed"
section of BENCHMARKS.md. Without the CLI it times collect() in-process instead.

Targets: median <= 0.8 s at 50 ms/call and <= 20 AWS calls on the public scenarios (the reads of load balancer
target health, ECR images, service revisions, running tasks' logs and, for network causes, the network path
included); large service < 3 s and <= 30 calls.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ECS_AGENT_SHARED", ROOT.parent / "shared"))
sys.path[:0] = [str(ROOT), str(SHARED / "tools")]

from fakeaws import FakeAws  # noqa: E402

from bench.benchmarks_md import write_section  # noqa: E402
from bench.large_service import large_service_scenario  # noqa: E402

TARGET_MEDIAN_S, TARGET_CALLS, TARGET_LARGE_S, TARGET_LARGE_CALLS = 0.8, 20, 3.0, 30
# moto builds a service's backend on its first request (ELBv2 takes ~1.5 s, importing EC2's): an emulator
# cost once per process, not the triage's, so it is paid before anything is timed
EMULATED_SERVICES = ("elbv2", "ec2", "ecr", "logs", "cloudwatch", "cloudformation")
MODEL_PACKAGES = re.compile(r"^(langchain\w*|langgraph\w*)(\.|$)")
SECTION = "## Triage speed"


def triage_command(project: Path, sc: dict, out: str) -> list[str]:
    t = sc["target"]
    return [str(project / ".venv" / "bin" / "ecs-agent"), "triage", "--cluster", t["cluster"], "--service",
            t["service"], "--region", sc.get("region", "us-east-1"), "--out", out]


def aws_env(endpoint: str, region: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=region, AWS_REGION=region, ECS_AGENT_MODEL="offline",
               AWS_EC2_METADATA_DISABLED="true")
    return env


def warm_emulator(region: str = "us-east-1") -> None:
    from moto.backends import get_backend

    for name in EMULATED_SERVICES:
        get_backend(name)["123456789012"][region]


def play(sc: dict, latency_ms: float) -> FakeAws:
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()  # moto's backends are process-wide: start each world empty
    fake = FakeAws(sc, latency_ms=latency_ms, read_only=True)
    fake.start()
    return fake


def run_cli(project: Path, sc: dict, fake: FakeAws) -> dict:
    out = tempfile.mkdtemp(prefix="triage-speed-")
    fake.calls.clear()
    started = time.perf_counter()
    proc = subprocess.run(triage_command(project, sc, out), cwd=project, capture_output=True, text=True,
                          env=aws_env(fake.endpoint, sc.get("region", "us-east-1")), timeout=120)
    wall = time.perf_counter() - started
    try:
        found = json.loads(Path(out, "triage.json").read_text())["root_cause"]["category"]
    except (OSError, ValueError, KeyError, TypeError):
        found = None
    return {"wall": wall, "calls": len(fake.calls), "writes": sum(1 for c in fake.calls if c.get("write")),
            "rc": proc.returncode, "found": found, "stderr": proc.stderr.strip()[-200:]}


def run_in_process(sc: dict, fake: FakeAws) -> dict:
    """Without the CLI: collect() alone, in this process (no start-up, no classification)."""
    from agents.aws_ecs_service.aws.session import AwsContext
    from agents.aws_ecs_service.diagnosis.collector import collect

    os.environ.update(aws_env(fake.endpoint, sc.get("region", "us-east-1")))
    fake.calls.clear()
    started = time.perf_counter()
    collect(AwsContext(), sc["target"]["cluster"], sc["target"]["service"])
    return {"wall": time.perf_counter() - started, "calls": len(fake.calls),
            "writes": sum(1 for c in fake.calls if c.get("write")), "rc": 0, "found": None, "stderr": ""}


def model_imports(project: Path, sc: dict, latency_ms: float) -> tuple[list[str], list[tuple[str, int]]]:
    """LangChain/LangGraph modules `python -X importtime ecs-agent triage` loads, and the slowest top-level imports."""
    fake = play(sc, latency_ms)
    try:
        out = tempfile.mkdtemp(prefix="triage-imports-")
        cmd = [str(project / ".venv" / "bin" / "python"), "-X", "importtime", *triage_command(project, sc, out)]
        proc = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=120,
                              env=aws_env(fake.endpoint, sc.get("region", "us-east-1")))
    finally:
        fake.stop()
    loaded, top = [], []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if not m:
            continue
        module = m.group(3)
        if MODEL_PACKAGES.match(module):
            loaded.append(module)
        if len(m.group(2)) == 1:  # a top-level import
            top.append((module, int(m.group(1)) // 1000))
    return sorted(set(loaded)), sorted(top, key=lambda x: -x[1])[:6]


def bench(project: Path, scenarios: list[dict], runs: int, latency_ms: float, use_cli: bool) -> list[dict]:
    rows = []
    for sc in scenarios:
        fake = play(sc, latency_ms)
        try:
            results = [run_cli(project, sc, fake) if use_cli else run_in_process(sc, fake) for _ in range(runs)]
        finally:
            fake.stop()
        ok = [r for r in results if r["rc"] == 0]
        row = {"id": sc["id"], "expected": sc["expected"]["root_cause"],
               "found": results[-1]["found"], "median_s": statistics.median(r["wall"] for r in ok) if ok else None,
               "max_calls": max(r["calls"] for r in results), "writes": sum(r["writes"] for r in results),
               "failed": len(results) - len(ok), "stderr": next((r["stderr"] for r in results if r["rc"]), "")}
        rows.append(row)
        median = f"{row['median_s']:.2f}s" if row["median_s"] is not None else "n/a"
        print(f"{row['id']:<26} median={median:<7} calls={row['max_calls']:<3} writes={row['writes']} "
              f"failed={row['failed']}/{runs} found={row['found']} {row['stderr']!r}" if row["failed"] else
              f"{row['id']:<26} median={median:<7} calls={row['max_calls']:<3} writes={row['writes']} "
              f"found={row['found']}", flush=True)
    return rows


def summary(rows: list[dict]) -> dict:
    medians = [r["median_s"] for r in rows if r["median_s"] is not None]
    return {"median_s": statistics.median(medians) if medians else None,
            "worst_s": max(medians) if medians else None,
            "max_calls": max((r["max_calls"] for r in rows), default=0),
            "writes": sum(r["writes"] for r in rows), "failed": sum(r["failed"] for r in rows)}


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def fmt(seconds: float | None) -> str:
    return f"{seconds:.2f} s" if seconds is not None else "n/a"


def section(public: dict, large: dict, rows: list[dict], imports: list[str] | None,
            top_imports: list[tuple[str, int]], args, mode: str) -> str:
    lines = [
        SECTION, "",
        f"Measured {dt.date.today().isoformat()} by `bench/triage_speed.py` ({mode}; {args.runs} runs per "
        f"scenario; fakeaws at {args.latency_ms:.0f} ms per AWS call; {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}).", "",
        "| | median wall time | max AWS calls | write calls | target |",
        "| --- | --- | --- | --- | --- |",
        f"| public scenarios ({len(rows) - 1}) | {fmt(public['median_s'])} (slowest scenario "
        f"{fmt(public['worst_s'])}) | {public['max_calls']} | {public['writes']} | median <= {TARGET_MEDIAN_S} s, "
        f"<= {TARGET_CALLS} calls: {verdict(_meets(public, TARGET_MEDIAN_S, TARGET_CALLS))} |",
        f"| large service (300 tasks, 150 stopped, 4 containers, 40 streams) | {fmt(large['median_s'])} | "
        f"{large['max_calls']} | {large['writes']} | < {TARGET_LARGE_S} s, <= {TARGET_LARGE_CALLS} calls: "
        f"{verdict(_meets(large, TARGET_LARGE_S, TARGET_LARGE_CALLS))} |", "",
        "The reads beyond ECS are in these numbers: target health for the service with a load balancer, one ECR "
        "BatchGetImage per repository, running tasks' logs when no task failed (streams that do not exist cost a "
        "call and hold no lines). The network path (6 EC2 reads) is read only for network-looking causes, which no "
        "public scenario has. moto builds an emulated service's backend on its first request (ELBv2: ~1.5 s); this "
        "bench pays that before timing, `../shared/tools/triage_bench.py` does not, so its elb-health-wrong-port run "
        "shows it.", "",
        "| scenario | median wall | AWS calls | root cause found |", "| --- | --- | --- | --- |",
    ]
    lines += [f"| {r['id']} | {fmt(r['median_s'])} | {r['max_calls']} | {r['found']} |" for r in rows]
    lines.append("")
    if imports is None:
        lines.append("LangChain/LangGraph on the triage path: not checked (no CLI).")
    else:
        lines.append("LangChain/LangGraph imported on the triage path (`python -X importtime`): "
                     + (", ".join(imports) if imports else "none") + ".")
        lines.append("Slowest top-level imports: " + ", ".join(f"{m} {ms} ms" for m, ms in top_imports) + ".")
    return "\n".join(lines) + "\n"


def _meets(s: dict, seconds: float, calls: int) -> bool:
    return (s["median_s"] is not None and s["median_s"] <= seconds and s["max_calls"] <= calls
            and s["writes"] == 0 and s["failed"] == 0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--project", type=Path, default=ROOT)
    ap.add_argument("--scenarios", type=Path, default=SHARED / "scenarios")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    args = ap.parse_args(argv)

    use_cli = (args.project / ".venv" / "bin" / "ecs-agent").exists()  # the console script, wherever its module lives
    mode = "whole `ecs-agent triage` process" if use_cli else "in-process collect() only: the CLI is missing"
    print(f"mode: {mode}")
    public_scenarios = [json.loads(p.read_text()) for p in sorted(args.scenarios.glob("*.json"))]
    warm_emulator()
    large_sc = large_service_scenario()
    rows = bench(args.project, public_scenarios, args.runs, args.latency_ms, use_cli)
    large_rows = bench(args.project, [large_sc], args.runs, args.latency_ms, use_cli)
    public, large = summary(rows), summary(large_rows)
    imports, top = (model_imports(args.project, public_scenarios[0], args.latency_ms) if use_cli else (None, []))

    print(f"public scenarios: median {fmt(public['median_s'])} (slowest {fmt(public['worst_s'])}), "
          f"max calls {public['max_calls']}, writes {public['writes']}, failed runs {public['failed']} -> "
          f"{verdict(_meets(public, TARGET_MEDIAN_S, TARGET_CALLS))}")
    print(f"large service:    median {fmt(large['median_s'])}, calls {large['max_calls']}, "
          f"failed runs {large['failed']} -> {verdict(_meets(large, TARGET_LARGE_S, TARGET_LARGE_CALLS))}")
    if imports is not None:
        print(f"langchain/langgraph on the triage path: {', '.join(imports) if imports else 'none'}")
        print("slowest top-level imports: " + ", ".join(f"{m} {ms} ms" for m, ms in top))
    if not args.no_write:
        write_section(args.project / "BENCHMARKS.md", section(public, large, rows + large_rows, imports, top, args, mode))
        print(f"updated {args.project / 'BENCHMARKS.md'}")
    return 0 if (_meets(public, TARGET_MEDIAN_S, TARGET_CALLS) and _meets(large, TARGET_LARGE_S, TARGET_LARGE_CALLS)
                 and not imports) else 1


if __name__ == "__main__":
    sys.exit(main())
