"""Shared fixtures: the loopback news site, a temporary data dir, databases, and the CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.dbfixtures import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def pytest_configure(config: pytest.Config) -> None:
    # The tests send Ctrl-C and hangups to the processes they start, which inherit this
    # process's ignored signals, and arsip keeps a stop signal it was started with ignored
    # (nohup). Whatever started the test run (a script's `cmd &` ignores SIGINT), they begin
    # with the usual actions.
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) == signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)


@dataclass
class CliResult:
    """What one ``arsip`` invocation printed and returned."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty archive folder for one test."""
    path = tmp_path / "arsip-data"
    path.mkdir()
    return path


def run_arsip(*args: str, timeout: float = 240, env: dict[str, str] | None = None,
              input: str | None = None) -> CliResult:
    """Run the real ``arsip`` command in a subprocess (a Twisted reactor runs once per process)."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("ARSIP_DATA_DIR", None)
    full_env.pop("ARSIP_DB_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "crawler", *args],
        capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO, input=input,
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


def start_crawl(base: str, data_dir: Path, *args: str, capture: bool = True
                ) -> subprocess.Popen[str]:
    """``arsip crawl`` in the background, for tests that interrupt or kill it."""
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    return subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
         "--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
         *args],
        # a session of its own, so a test can kill the crawl with all its processes
        cwd=REPO, stdout=out, stderr=out, text=True, start_new_session=True,
    )


def wait_for_requests(base: object, count: int, timeout: float = 60) -> None:
    """Until the served site has answered ``count`` requests."""
    deadline = time.monotonic() + timeout
    while len(base.requests) < count and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.05)


def slow_site(n_articles: int, seconds: float) -> object:
    """The fixture site with every resource answering after ``seconds``."""
    from tests.newsite import build_site

    site = build_site(n_articles=n_articles)
    site.slow_seconds = seconds
    for resource in site.resources.values():
        resource.slow = True
    return site


@pytest.fixture
def arsip():
    """The ``arsip`` command as a function: ``arsip("crawl", url, "--data-dir", d)``."""
    return run_arsip


@pytest.fixture
def seed_text() -> str:
    """The real article of the kind arsip archives (../shared/seed)."""
    files = sorted((SHARED / "seed").glob("*.txt"))
    if not files:
        pytest.skip(f"the seed article is not at {SHARED / 'seed'}")
    return files[0].read_text(encoding="utf-8")


@pytest.fixture
def served_site() -> Iterator[tuple[object, str]]:
    """The fixture news site, served on 127.0.0.1: ``(site, base_url)``."""
    from tests.newsite import build_site, serve

    site = build_site()
    with serve(site) as base_url:
        yield site, base_url
