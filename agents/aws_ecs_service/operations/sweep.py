"""A sweep: "is anything broken in prod?" Every service of a cluster triaged at once, worst first.

Each service is one exact service (the AwsContext fixes account and region; the listing gives its ARN), so a
same-named service in another region or account is never swept with it. The sweep is bounded: at most
`max_services` per cluster (the rest are named as not checked), `workers` triages at a time, a budget of AWS calls
(no triage starts once it is spent) and a deadline (services not done by then are reported as not checked in time).
"""
from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..aws.session import AwsContext
from ..diagnosis.collector import triage_error
from ..diagnosis.engine import DEFAULT_WINDOW, run_triage
from ..diagnosis.errors import TriageError

MAX_SERVICES = 25
WORKERS = 4
MAX_CALLS = 1500  # a triage makes about 15-60 reads
DEADLINE_S = 180.0
_STATUS_ORDER = ("down", "degraded", "unreadable", "not checked", "healthy")
_SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")


@dataclass(frozen=True)
class SweepJob:
    ctx: AwsContext
    cluster: str
    service: str  # the name: the context's account and region make it one exact service


@dataclass
class SweptService:
    cluster: str
    service: str
    region: str
    status: str  # down | degraded | healthy | unreadable (the triage failed) | not checked (over a bound)
    account: str | None = None
    service_arn: str | None = None
    category: str | None = None
    severity: str = "info"
    confidence: float = 0.0
    summary: str = ""
    evidence: list[str] = field(default_factory=list)
    api_calls: int = 0

    def rank(self) -> tuple[int, int, float, str]:
        return (_STATUS_ORDER.index(self.status), _SEVERITY_ORDER.index(self.severity), -self.confidence,
                f"{self.region}/{self.cluster}/{self.service}")


@dataclass
class SweepResult:
    services: list[SweptService]  # worst first
    listed: int  # services asked about
    api_calls: int
    duration_ms: int

    @property
    def broken(self) -> list[SweptService]:
        return [s for s in self.services if s.status in ("down", "degraded")]

    def to_json_dict(self) -> dict[str, Any]:
        return {"schema": "ecs-sweep/v1", "listed": self.listed, "api_calls": self.api_calls,
                "duration_ms": self.duration_ms, "services": [asdict(s) for s in self.services]}

    def text(self) -> str:
        accounts: dict[tuple[str, str], str | None] = {}
        for s in self.services:  # a service not checked does not know its account; another of its cluster may
            accounts[(s.cluster, s.region)] = accounts.get((s.cluster, s.region)) or s.account
        where = [f"{cluster} ({region}{', account ' + account if account else ''})"
                 for (cluster, region), account in sorted(accounts.items())]
        checked = sum(s.status != "not checked" for s in self.services)
        lines = [f"Swept {', '.join(where) or 'nothing'}: {checked} of {self.listed} services checked, "
                 f"{len(self.broken)} with a problem ({self.api_calls} AWS calls, {self.duration_ms / 1000:.1f} s)."]
        for i, s in enumerate(self.broken, 1):
            lines.append(f"  {i}. {s.cluster}/{s.service} is {s.status}: {s.category} ({s.severity}, confidence "
                         f"{s.confidence:.2f}). {s.summary}")
            lines += [f"       · {line}" for line in s.evidence[:1]]
        for status in ("unreadable", "not checked"):
            named = [s for s in self.services if s.status == status]
            if named:
                lines.append(f"  {status}: " + "; ".join(f"{s.cluster}/{s.service} ({s.summary})" for s in named))
        healthy = [f"{s.cluster}/{s.service}" for s in self.services if s.status == "healthy"]
        if healthy:
            lines.append(f"  healthy: {', '.join(healthy)}")
        return "\n".join(lines)


def cluster_jobs(ctx: AwsContext, cluster: str) -> list[SweepJob]:
    """Every service of the cluster in the context's account and region, by name."""
    ecs = ctx.client("ecs")
    names: list[str] = []
    try:
        for page in ecs.get_paginator("list_services").paginate(cluster=cluster):
            names += [arn.rsplit("/", 1)[-1] for arn in page["serviceArns"]]
    except (BotoCoreError, ClientError) as exc:
        raise triage_error(exc, "ecs:ListServices", cluster, "", ctx.region) from exc
    return [SweepJob(ctx, cluster, name) for name in sorted(names)]


def sweep(jobs: list[SweepJob], since: dt.timedelta = DEFAULT_WINDOW, allow_sensitive_data: bool = False,
          max_services: int = MAX_SERVICES, workers: int = WORKERS, max_calls: int = MAX_CALLS,
          deadline_s: float = DEADLINE_S, progress: Callable[[str], None] = lambda _line: None,
          clock: Callable[[], float] = time.monotonic) -> SweepResult:
    """Triage the first `max_services` jobs concurrently (at most `workers` at a time), within the call budget and
    the deadline; the others are reported as not checked."""
    started = clock()
    spent = [0]
    lock = threading.Lock()

    def one(job: SweepJob) -> SweptService:
        with lock:
            over = spent[0] >= max_calls
        if over:
            return _unchecked(job, f"the sweep's budget of {max_calls} AWS calls was spent")
        try:
            result, _evidence = run_triage(job.ctx, job.cluster, job.service, since=since,
                                           allow_sensitive_data=allow_sensitive_data)
        except TriageError as exc:
            return SweptService(job.cluster, job.service, job.ctx.region, "unreadable", summary=str(exc))
        with lock:
            spent[0] += result.stats.api_calls
        top = result.findings[0] if result.findings else None
        swept = SweptService(
            job.cluster, job.service, job.ctx.region, result.status, account=result.target.account,
            service_arn=result.target.service_arn, category=result.root_cause.category,
            severity=top.severity if top else "info", confidence=result.root_cause.confidence,
            summary=result.root_cause.summary, evidence=result.root_cause.evidence[:2],
            api_calls=result.stats.api_calls)
        progress(f"{job.cluster}/{job.service}: {swept.status}"
                 + (f" ({swept.category})" if swept.status != "healthy" else ""))
        return swept

    pool = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="sweep")
    futures = {pool.submit(one, job): job for job in jobs[:max_services]}
    done, late = wait(futures, timeout=deadline_s)
    pool.shutdown(wait=False, cancel_futures=True)  # a triage still running finishes on its own; none is waited for
    swept = [f.result() for f in done]
    swept += [_unchecked(futures[f], f"not done within the sweep's {deadline_s:g} s") for f in late]
    swept += [_unchecked(job, f"over the sweep's {max_services} services") for job in jobs[max_services:]]
    swept.sort(key=SweptService.rank)
    return SweepResult(swept, len(jobs), spent[0], int((clock() - started) * 1000))


def _unchecked(job: SweepJob, why: str) -> SweptService:
    return SweptService(job.cluster, job.service, job.ctx.region, "not checked", summary=why)
