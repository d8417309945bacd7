"""The `ecs-agent` command.

Imports stay inside the subcommands: `ecs-agent triage` must start fast and never load
LangChain/LangGraph.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from ..domain.inputs import UsageError, check_name, parse_since

EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130

def write_outputs(out_dir: Path, files: dict[str, str]) -> list[Path]:
    """Write all files or none: temp files first, then renames with Ctrl-C held back."""
    out_dir.mkdir(parents=True, exist_ok=True)
    temps: list[tuple[Path, Path]] = []
    try:
        for name, text in files.items():
            final = out_dir / name
            tmp = out_dir / f".{name}.partial"
            tmp.write_text(text, encoding="utf-8")
            temps.append((tmp, final))
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            for tmp, final in temps:
                os.replace(tmp, final)
        finally:
            signal.signal(signal.SIGINT, previous)
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)
    return [final for _, final in temps]


def _triage_files(result, evidence) -> dict[str, str]:
    from ..reports.incident_reports import TRIAGE_REPORT
    from ..reports.triage_report import render_triage_report

    return {
        "triage.json": json.dumps(result.to_json_dict(), indent=2, sort_keys=False) + "\n",
        TRIAGE_REPORT: render_triage_report(result, evidence),
        "evidence.json": json.dumps(evidence, indent=1, sort_keys=True) + "\n",
    }


def _print_summary(result, paths: list[Path]) -> None:
    rc = result.root_cause
    print(f"{result.target.cluster}/{result.target.service}: {result.status} — {rc.category} "
          f"(confidence {rc.confidence:.2f})")
    print(f"  {rc.summary}")
    for line in rc.evidence[:3]:
        print(f"  · {line}")
    for action in result.suggested_actions[:2]:
        print(f"  suggested: {action.action} {json.dumps(action.params) if action.params else ''} — {action.rationale}")
    if result.could_not_read:
        print(f"  could not read (partial triage): {', '.join(result.could_not_read)}")
    print("  wrote " + ", ".join(str(p) for p in paths))


def cmd_triage(args: argparse.Namespace) -> int:
    cluster = check_name("cluster", args.cluster)
    service = check_name("service", args.service)
    since = parse_since(args.since)
    from ..config import ECSDeepAgentConfig
    from ..diagnosis.engine import run_triage

    config = ECSDeepAgentConfig.load(aws_region=args.region, aws_profile=args.profile)
    ctx = _aws_context(config)
    print(f"triaging {cluster}/{service} in {ctx.region} (last {args.since}) …", file=sys.stderr)
    result, evidence = run_triage(ctx, cluster, service, since=since,
                                  allow_sensitive_data=config.allow_sensitive_data)
    paths = write_outputs(Path(args.out), _triage_files(result, evidence))
    _print_summary(result, paths)
    return EXIT_OK


def cmd_sweep(args: argparse.Namespace) -> int:
    cluster = check_name("cluster", args.cluster)
    since = parse_since(args.since)
    from ..config import ECSDeepAgentConfig
    from ..operations.sweep import cluster_jobs, sweep

    config = ECSDeepAgentConfig.load(aws_region=args.region, aws_profile=args.profile)
    ctx = _aws_context(config)
    jobs = cluster_jobs(ctx, cluster)
    print(f"sweeping {len(jobs)} services of {cluster} in {ctx.region} (last {args.since}) …", file=sys.stderr)
    result = sweep(jobs, since=since, allow_sensitive_data=config.allow_sensitive_data, max_services=args.max_services,
                   progress=lambda line: print(f"  {line}", file=sys.stderr))
    print(json.dumps(result.to_json_dict(), indent=2) if args.format == "json" else result.text())
    return EXIT_OK


def _aws_context(config):
    import botocore.exceptions

    from ..aws.session import AwsContext
    from ..diagnosis.errors import NoCredentials

    try:
        return AwsContext(region=config.aws_region, profile=config.aws_profile)
    except botocore.exceptions.ProfileNotFound as exc:
        raise NoCredentials(f"AWS profile not found: {exc}") from None


def cmd_replay(args: argparse.Namespace) -> int:
    from ..diagnosis.engine import analyse
    from ..diagnosis.errors import EvidenceFileError
    from ..diagnosis.evidence import SCHEMA

    path = Path(args.evidence)
    try:
        evidence = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EvidenceFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise EvidenceFileError(f"{path}: not a readable JSON evidence file ({exc})") from None
    if not isinstance(evidence, dict) or evidence.get("schema") != SCHEMA:
        raise EvidenceFileError(f"{path}: not an {SCHEMA} evidence document")
    result = analyse(evidence)
    out = Path(args.out) if args.out else path.parent / "replay"
    files = _triage_files(result, evidence)
    del files["evidence.json"]  # the input is the evidence; don't rewrite it
    paths = write_outputs(out, files)
    _print_summary(result, paths)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(Path(args.out), assume_yes=args.yes, stdin_is_tty=sys.stdin.isatty(), print_fn=print)


def cmd_chat(args: argparse.Namespace) -> int:
    from .chat_cli import run_chat

    return run_chat(thread_id=args.thread)


def cmd_mcp(args: argparse.Namespace) -> int:
    from .mcp_server import serve

    serve(http=args.http, host=args.host, port=args.port)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecs-agent", description="AI incident agent for Amazon ECS")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("triage", help="find the root cause of a service's trouble (read-only, no model)")
    p.add_argument("--cluster", required=True)
    p.add_argument("--service", required=True)
    p.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    p.add_argument("--since", default="2h", help="how far back to look, e.g. 30m, 2h, 1d (default 2h)")
    p.add_argument("--out", default="triage-out", help="output folder (default ./triage-out)")
    p.set_defaults(func=cmd_triage)

    p = sub.add_parser("sweep", help="is anything broken? triage every service of a cluster, worst first (read-only)")
    p.add_argument("--cluster", required=True)
    p.add_argument("--region", help="AWS region (default: AWS_REGION / profile)")
    p.add_argument("--profile", help="AWS profile (default: AWS_PROFILE)")
    p.add_argument("--since", default="2h", help="how far back to look (default 2h)")
    p.add_argument("--max-services", type=int, default=25, help="services triaged at most (default 25)")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("replay", help="run the analysis again on a saved evidence.json")
    p.add_argument("evidence")
    p.add_argument("--out", help="output folder (default: replay/ beside the evidence file)")
    p.set_defaults(func=cmd_replay)

    p = sub.add_parser("demo", help="the whole flow on the built-in sandbox: no AWS account, no Bedrock")
    p.add_argument("--yes", action="store_true", help="approve the repair plan without asking (sandbox only)")
    p.add_argument("--out", default="demo-out", help="output folder for the four reports (default ./demo-out)")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("chat", help="talk to the agent in the terminal (approvals included)")
    p.add_argument("--thread", help="continue a previous conversation (its thread id)")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("mcp", help="serve the read tools, triage and discovery to MCP clients (stdio; no AWS writes)")
    p.add_argument("--http", action="store_true", help="streamable HTTP on a local port instead of stdio")
    p.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="HTTP port (default 8765)")
    p.set_defaults(func=cmd_mcp)

    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    from ..diagnosis.errors import TriageError

    try:
        return func(args)
    except (UsageError, TriageError) as exc:
        print(f"ecs-agent: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:
        # AWS failures the engine did not translate still get one line, not a traceback.
        if type(exc).__module__.startswith("botocore"):
            print(f"ecs-agent: error: AWS: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        raise
    except KeyboardInterrupt:
        print("ecs-agent: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
