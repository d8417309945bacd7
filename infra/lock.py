"""`make lock`: resolve each Lambda asset kind for Lambda's platform, with hashes, into requirements/.

    .venv/bin/python -m infra.lock [--upgrade]

uv resolves for CPython 3.12 on manylinux_2_28 aarch64 from PyPI's metadata (nothing is built or
run for that platform here). Without --upgrade a pin already in the lock file stays unless the
requirements changed; --upgrade takes the newest versions pyproject.toml allows. Each lock records
its input (`# input:`), so synth refuses a lock that pyproject.toml has moved away from.
The checkov tool (requirements/checkov.in) is locked too, for any platform and Python >= 3.11.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from .assets import ASSET_KINDS, LAMBDA_PYTHON, UV_PLATFORM, AssetKind, input_line, lock_inputs

ROOT = Path(__file__).resolve().parent.parent
COMPILE_COMMAND = "make lock"
TOOLS = ("checkov",)
TOOLS_PYTHON = "3.11"


def lock(kind: AssetKind, root: Path = ROOT, upgrade: bool = False) -> Path:
    inputs = lock_inputs(kind, root / "pyproject.toml")
    path = kind.lock_path(root)
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "uv", "pip", "compile", "-", "--quiet", "--generate-hashes",
               "--python-version", LAMBDA_PYTHON, "--python-platform", UV_PLATFORM,
               "--custom-compile-command", COMPILE_COMMAND, "--output-file", str(path)]
    command += [arg for name in kind.omitted for arg in ("--no-emit-package", name)]
    if upgrade:
        command.append("--upgrade")
    subprocess.run(command, input="\n".join(inputs) + "\n", text=True, check=True, cwd=root)
    header, _, body = path.read_text().partition("\n#    " + COMPILE_COMMAND + "\n")
    path.write_text(f"{header}\n#    {COMPILE_COMMAND}\n"
                    f"# Lambda asset '{kind.name}': CPython {LAMBDA_PYTHON}, {UV_PLATFORM}.\n"
                    f"{input_line(inputs)}\n{body}")
    return path


def lock_tool(name: str, root: Path = ROOT, upgrade: bool = False) -> Path:
    """A tool's own environment: requirements/<name>.in -> <name>.lock, for every platform (uv --universal)."""
    source, path = root / "requirements" / f"{name}.in", root / "requirements" / f"{name}.lock"
    command = [sys.executable, "-m", "uv", "pip", "compile", str(source.relative_to(root)), "--quiet",
               "--generate-hashes", "--universal", "--python-version", TOOLS_PYTHON,
               "--custom-compile-command", COMPILE_COMMAND, "--output-file", str(path.relative_to(root))]
    subprocess.run(command + (["--upgrade"] if upgrade else []), check=True, cwd=root)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--upgrade", action="store_true", help="take the newest versions pyproject.toml allows")
    args = parser.parse_args(argv)
    for kind in ASSET_KINDS.values():
        print(f"locked {lock(kind, upgrade=args.upgrade).relative_to(ROOT)}")
    for tool in TOOLS:
        print(f"locked {lock_tool(tool, upgrade=args.upgrade).relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
