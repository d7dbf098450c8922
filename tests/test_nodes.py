"""arsip on crawl nodes: running from a Scrapyd egg (a zip), WARC files of several nodes."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]

FROM_THE_EGG = """
import sys
import crawler, storage
egg = sys.argv[1]
assert crawler.__file__.startswith(egg) and storage.__file__.startswith(egg), crawler.__file__
from crawler.config import setting_defaults
from crawler.sites import load_profile, stored_profile
from storage.db import SCHEMA_HEAD, WRITE, create_engine_for, schema_version, upgrade_with_alembic
assert load_profile("kudakyv").stored == "kudakyv"
assert stored_profile("kudakyv", "k").base_url.startswith("https://")
assert setting_defaults()["ARSIP_WARC_PREFIX"] == "arsip"
engine = create_engine_for("sqlite:///" + sys.argv[2])
with engine.connect() as conn:
    conn = conn.execution_options(**WRITE)
    with conn.begin():
        upgrade_with_alembic(conn)  # every migration script, read from the zip
        assert schema_version(conn) == SCHEMA_HEAD
print("ok")
"""


def test_bundled_data_is_read_from_an_egg(tmp_path: Path) -> None:
    """Scrapyd runs a project from a zipped egg: profiles, settings and migrations are read as
    package resources, not from a folder beside the module."""
    egg = tmp_path / "arsip.egg"
    with zipfile.ZipFile(egg, "w") as zf:
        for package in ("crawler", "storage", "scheduler"):
            for path in sorted((ROOT / package).rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    zf.write(path, path.relative_to(ROOT).as_posix())
    done = subprocess.run(
        [sys.executable, "-c", FROM_THE_EGG, str(egg), str(tmp_path / "arsip.db")],
        cwd=tmp_path, env={"PYTHONPATH": str(egg), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
