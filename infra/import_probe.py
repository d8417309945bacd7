"""Import a handler module the way Lambda would: a fresh interpreter that sees only the asset's directory.

`python -I -S` ignores PYTHON* variables, the user's and the interpreter's site-packages, so the
standard library and the asset are all there is; the environment looks like Lambda's (function
name and Region set), so Powertools' Tracer loads the X-Ray SDK as it does there. The asset must be
built for this machine's platform (bundling.host_target): Lambda's aarch64 wheels do not load here.
"""
from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path

LAMBDA_LIKE_ENV = {
    "AWS_LAMBDA_FUNCTION_NAME": "import-probe",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "probe",
    "AWS_SECRET_ACCESS_KEY": "probe",
    "POWERTOOLS_SERVICE_NAME": "ecs-incident-agent",
}

_PROBE = """
import json, sys, time
sys.path.insert(0, {tree!r})
start = time.perf_counter()
import {module}
seconds = time.perf_counter() - start
{after}
print(json.dumps({{"seconds": seconds, "packages": sorted({{m.split(".")[0] for m in sys.modules}})}}))
"""


class ImportFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ImportResult:
    seconds: float
    packages: frozenset[str]  # top-level packages loaded by the end of the probe


def import_in_isolation(python: str, tree: Path, module: str, *, after: str = "",
                        env: dict[str, str] | None = None) -> ImportResult:
    """Import `module` from `tree` alone, then run the statements in `after` (one line, may be empty)."""
    code = _PROBE.format(tree=str(tree), module=module, after=after)
    done = subprocess.run([python, "-I", "-S", "-c", code], capture_output=True, text=True,
                          env={**LAMBDA_LIKE_ENV, **(env or {})}, timeout=300)
    if done.returncode != 0:
        raise ImportFailed(f"import {module} from {tree} alone failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    return ImportResult(found["seconds"], frozenset(found["packages"]))
