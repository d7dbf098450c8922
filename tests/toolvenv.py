"""Reference tools that must not share arsip's virtualenv, each in a virtualenv of its own.

pywb pins ``brotlipy``, whose ``brotli`` module breaks Scrapy's; the ``wacz`` validator brings
frictionless and its own pins. Tests run them as programs. The virtualenvs live outside the
repository (``ARSIP_TOOL_VENVS``, default ``~/.cache/arsip/tool-venvs``) and are built once:

    python -m tests.toolvenv pywb wacz

``.ci/run`` does that. A test that needs a missing tool skips with this advice, except under
``CI=true``, where the fixture builds it (and fails if it cannot).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# name -> (pip requirement, program the tests run)
TOOLS = {
    "pywb": ("pywb>=2.8,<3", "wayback"),
    "wacz": ("wacz>=0.5,<1", "wacz"),
}


def venvs_dir() -> Path:
    return Path(os.environ.get("ARSIP_TOOL_VENVS") or Path.home() / ".cache/arsip/tool-venvs")


def program(name: str, executable: str | None = None) -> Path:
    return venvs_dir() / name / "bin" / (executable or TOOLS[name][1])


def build(name: str) -> Path:
    """Create (or finish) the tool's virtualenv; the path of its program."""
    requirement, _ = TOOLS[name]
    target = venvs_dir() / name
    target.parent.mkdir(parents=True, exist_ok=True)
    python = target / "bin" / "python"
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(target)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    requirement], check=True, timeout=900)
    return program(name)


def require(name: str) -> Path:
    """The tool's program for a test: built under CI, else skipped with advice if missing."""
    found = program(name)
    if found.exists():
        return found
    if os.environ.get("CI", "").lower() == "true":
        return build(name)
    pytest.skip(f"{name} is not installed in its own virtualenv at {found.parent.parent}; "
                f"create it with `python -m tests.toolvenv {name}`")


def main(argv: list[str]) -> int:
    for name in argv or list(TOOLS):
        if name not in TOOLS:
            print(f"unknown tool {name!r} (known: {', '.join(TOOLS)})", file=sys.stderr)
            return 2
        print(f"{name}: {build(name)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
