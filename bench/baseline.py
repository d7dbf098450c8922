"""A baseline revision's files, for the benches that run it side by side with this tree."""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from io import BytesIO
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def baseline_tree(rev: str, into: Path) -> Path:
    """The files of ``rev`` as ``git archive`` gives them, in ``into`` (replaced)."""
    data = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True,
                          capture_output=True).stdout
    shutil.rmtree(into, ignore_errors=True)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into
