"""A killed crawl and a full disk: nothing archived is lost, nothing is left corrupt."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import run_arsip, slow_site, start_crawl, wait_for_requests
from tests.newsite import build_site, serve
from tests.signal_cases import descendants, group_members, the_error_line

QUICK = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
         "-s", "DOWNLOAD_TIMEOUT=5", "-s", "RETRY_TIMES=0")


def warcio_check(files: list[Path]) -> None:
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def captures_are_readable(db: Path, warc_dir: Path) -> int:
    """Every capture row points at a whole record of the type it claims; returns the count."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT url, warc_file, warc_offset, warc_length, record_type FROM captures"
        ).fetchall()
    for url, name, offset, length, record_type in rows:
        path = warc_dir / name
        if not path.exists():  # still being written when the process died: ``NAME.open``
            path = warc_dir / f"{name}.open"
        assert path.exists(), name
        assert offset + length <= path.stat().st_size
        with path.open("rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
        assert record.rec_type == record_type
        assert record.rec_headers.get_header("WARC-Target-URI") == url
    return len(rows)


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_killed_crawl_process_still_leaves_a_closed_indexed_archive(tmp_path: Path) -> None:
    site = slow_site(60, 0.2)
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        proc = start_crawl(base, data_dir, capture=False)
        wait_for_requests(base, 25)
        helpers = descendants(proc.pid)  # the recorder, the extraction workers
        assert len(helpers) >= 2
        proc.kill()  # SIGKILL the crawl process only: its recorder sees the pipe close
        proc.wait(timeout=30)
        # and no process of the crawl is left behind, waiting for work that will never come
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and any(map(alive, helpers)):
            time.sleep(0.1)
        assert not [pid for pid in helpers if alive(pid)]
        deadline = time.monotonic() + 30
        warc_dir = data_dir / "warc"
        while time.monotonic() < deadline and (
            not warc_dir.exists() or [f for f in warc_dir.iterdir() if f.name.endswith(".open")]
        ):
            time.sleep(0.1)
    files = sorted(warc_dir.iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    indexed = captures_are_readable(data_dir / "arsip.db", warc_dir)
    responses = sum(1 for f in files for r in ArchiveIterator(f.open("rb"))
                    if r.rec_type in ("response", "revisit"))
    assert indexed == responses > 0


def test_killed_machine_leaves_a_recoverable_archive(tmp_path: Path) -> None:
    site = slow_site(60, 0.2)
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        proc = start_crawl(base, data_dir, capture=False)
        wait_for_requests(base, 25)
        # SIGKILL every process of the crawl at once, as a power cut would: WARC stays .open
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30  # until every process of the crawl is gone
        while group_members(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not group_members(proc.pid)
        warc_dir = data_dir / "warc"
        assert [f for f in warc_dir.iterdir() if f.name.endswith(".open")]
        # the database is consistent as it stands: every row it kept points at a real record
        before = captures_are_readable(data_dir / "arsip.db", warc_dir)
        # the next crawl repairs and renames the file, then carries on
        for resource in site.resources.values():
            resource.slow = False
        again = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK)
    assert again.returncode == 0, again.stderr
    assert "Recovered WARC file" in again.stderr
    files = sorted(warc_dir.iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    assert captures_are_readable(data_dir / "arsip.db", warc_dir) > before
    with sqlite3.connect(data_dir / "arsip.db") as conn:
        runs = conn.execute("SELECT outcome, stats, finished_at FROM crawl_runs ORDER BY id"
                            ).fetchall()
        first_captures = conn.execute("SELECT count(*) FROM captures WHERE run_id = 1"
                                      ).fetchone()[0]
    # the killed run never finished: the next crawl found its process gone and marked it
    # killed, with what it had stored (defect 4: it stayed "running" forever)
    assert [outcome for outcome, _, _ in runs] == ["killed", "finished"]
    killed_stats = json.loads(runs[0][1])
    assert killed_stats["arsip/captures"] == first_captures >= before > 0
    assert runs[0][2] is not None
    # the recovered file's records are all in the index again, killed batch included
    responses = sum(1 for f in files for r in ArchiveIterator(f.open("rb"))
                    if r.rec_type in ("response", "revisit"))
    assert captures_are_readable(data_dir / "arsip.db", warc_dir) == responses


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB filesystem (tmpfs), to fill up for real."""
    mount_point = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                              str(mount_point)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_full_disk_stops_the_crawl_cleanly(tmp_path: Path, tiny_disk: Path) -> None:
    site = build_site(n_articles=80, page_kb=64)
    data_dir = tmp_path / "arsip-data"
    with serve(site) as base:
        result = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK,
                           "-s", f"ARSIP_WARC_DIR={tiny_disk}")
    assert result.returncode == 1
    assert "disk full" in the_error_line(result.stderr)
    files = sorted(tiny_disk.iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    assert captures_are_readable(data_dir / "arsip.db", tiny_disk) > 0
    with sqlite3.connect(data_dir / "arsip.db") as conn:
        assert conn.execute("SELECT outcome FROM crawl_runs").fetchall() == [("disk_full",)]
