"""A signal sent to a real ``arsip crawl`` in a chosen state, and what it left behind.

Shared by ``tests/test_runtime.py`` (each state, each signal) and ``bench/signals.py`` (the same,
many times over). Every wait is for something the crawl reports -- a line in its state file
(``ARSIP_STATE_FILE``), a request reaching the fixture server -- never a fixed sleep. The crawl
is held in a state for as long as needed: the fixture server's gate holds its requests
(OPENED, CRAWLING, STOPPING), a locked database holds the recorder (STARTING while opening), and
a stdout nobody reads holds the summary (CLOSED, FAILED).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from tests.newsite import build_site, serve

REPO = Path(__file__).resolve().parents[1]
# The crawl's states (crawler.runtime.CrawlState), and STARTING four times over: "launching"
# (arsip holds the signals and imports its CLI: the runtime does not exist yet), at the crawl's
# first report (it is importing and setting up), as its helper processes start (they import
# too), and with the helpers up and the recorder waiting on a locked database.
STATES = ("launching", "starting", "spawning", "opening", "opened", "crawling", "stopping",
          "closed", "failed")
SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM, "SIGHUP": signal.SIGHUP}
QUICK = ("--no-progress", "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "ARSIP_EXTRACT_WORKERS=1",
         "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_TIMEOUT=60")


@dataclass
class CaseResult:
    """What one signal in one state did."""

    signal: str
    state: str
    to_group: bool
    exit_code: int | None = None
    expected_exit: int | None = None
    outcomes: list[str] = field(default_factory=list)
    expected_outcomes: tuple[tuple[str, ...], ...] = ()
    warc_files: int = 0
    warc_valid: bool = True
    indexed: bool = True  # every response/revisit record in the WARC files has its row
    leftovers: list[int] = field(default_factory=list)
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not self.problems


def expected_exit(state: str, signum: int) -> int:
    if state == "closed":
        return 0
    if state == "failed":
        return 1
    return 128 + signum


def expected_outcomes(state: str) -> tuple[tuple[str, ...], ...]:
    """The crawl_runs outcomes a clean stop may leave (a signal in STARTING may come before or
    after the recorder has opened the run)."""
    return {
        "launching": ((),),
        "starting": ((), ("interrupted",)),
        "spawning": ((), ("interrupted",)),
        "opening": ((), ("interrupted",)),
        "closed": (("finished",),),
        "failed": (("unreachable",),),
    }.get(state, (("interrupted",),))


def start_crawl(base: str, data_dir: Path, state_file: Path, *, stdout: int | None = None,
                stderr_path: Path) -> subprocess.Popen[bytes]:
    with stderr_path.open("wb") as err:
        return subprocess.Popen(
            # `python -m crawler` starts as the `arsip` script does (crawler.launch)
            [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
             *QUICK, "-s", f"ARSIP_STATE_FILE={state_file}"],
            cwd=REPO, stdout=stdout if stdout is not None else subprocess.PIPE, stderr=err,
            start_new_session=True,  # a process group of its own, as a terminal gives it
        )


def states_reported(state_file: Path) -> list[str]:
    try:
        lines = state_file.read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line)["state"] for line in lines if line.strip()]


def wait_for_state(state_file: Path, state: str, proc: subprocess.Popen[bytes],
                   timeout: float = 120) -> None:
    """Until the crawl reports ``state``; AssertionError if it exits or times out first."""
    deadline = time.monotonic() + timeout
    while state not in states_reported(state_file):
        if proc.poll() is not None:
            raise AssertionError(f"the crawl exited ({proc.returncode}) before {state}: "
                                 f"{states_reported(state_file)}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {state} within {timeout} s: {states_reported(state_file)}")
        time.sleep(0.01)


def screen_of(master: int) -> str:
    """Everything shown on a pseudo-terminal until its other side closes, without the
    escape sequences (``master`` is closed after)."""
    screen = b""
    try:
        while chunk := os.read(master, 65536):
            screen += chunk
    except OSError:  # EIO: the terminal's other side is closed
        pass
    finally:
        os.close(master)
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))


def the_error_line(stderr: str) -> str:
    """The one ``Error:`` line an expected failure prints, with no traceback."""
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    return errors[0]


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler of its own for ``signum`` (/proc's SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            mask = next(line for line in fh if line.startswith("SigCgt:")).split()[1]
    except (OSError, StopIteration):
        return False
    return bool(int(mask, 16) >> (signum - 1) & 1)


def wait_for_launch(state_file: Path, proc: subprocess.Popen[bytes],
                    timeout: float = 60) -> bool:
    """Until arsip holds the shutdown signals (``crawler.launch``: Python alone catches only
    SIGINT); True if the crawl's runtime did not exist yet at that moment (no state reported)."""
    deadline = time.monotonic() + timeout
    while not catches(proc.pid, signal.SIGHUP):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"arsip never held the signals (exit {proc.returncode})")
        time.sleep(0.001)
    return not state_file.exists()


def wait_until(condition: object, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def group_members(pgid: int) -> list[int]:
    """Live processes of a process group, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    found: list[int] = []
    stack = [pid]
    while stack:
        parent = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{parent}/task/{task}/children") as fh:
                    kids = [int(k) for k in fh.read().split()]
            except OSError:
                continue
            found.extend(kids)
            stack.extend(kids)
    return found


def process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@contextmanager
def unread_pipe() -> Iterator[tuple[int, int]]:
    """A pipe whose buffer is already full: the first write to its other end blocks until
    the test drains it. ``(read_fd, write_fd)``."""
    read_fd, write_fd = os.pipe()
    flags = fcntl.fcntl(write_fd, fcntl.F_GETFL)
    fcntl.fcntl(write_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
    with suppress(BlockingIOError):
        while True:
            os.write(write_fd, b"\0" * 65536)
    fcntl.fcntl(write_fd, fcntl.F_SETFL, flags)
    try:
        yield read_fd, write_fd
    finally:
        for fd in (read_fd, write_fd):
            with suppress(OSError):
                os.close(fd)


def drain(read_fd: int, into: list[bytes]) -> threading.Thread:
    def run() -> None:
        while chunk := os.read(read_fd, 65536):
            into.append(chunk)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


@contextmanager
def write_locked(db: Path) -> Iterator[None]:
    """Hold the SQLite write lock: a recorder opening this archive waits (STARTING)."""
    from storage.archive import Archive

    Archive.open(f"sqlite:///{db}").close()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        with suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        conn.close()


def run_case(signame: str, state: str, workdir: Path, *, to_group: bool = True,
             articles: int = 8) -> CaseResult:
    """Start a crawl, wait until it reports ``state``, send ``signame``, and check what it
    left: exit code, run outcome, WARC files, index, processes."""
    signum = SIGNALS[signame]
    result = CaseResult(signame, state, to_group, expected_exit=expected_exit(state, signum),
                        expected_outcomes=expected_outcomes(state))
    data_dir = workdir / "arsip-data"
    state_file = workdir / "state.jsonl"
    stderr_path = workdir / "stderr.txt"
    site = build_site(n_articles=articles)
    site.gate = threading.Event()
    site.gate.set()
    began = time.monotonic()
    out: list[bytes] = []

    def send(proc: subprocess.Popen[bytes], sig: int = signum) -> None:
        if to_group:
            os.killpg(proc.pid, sig)
        else:
            os.kill(proc.pid, sig)

    with serve(site) as base, unread_pipe() as (read_fd, write_fd):
        target = base
        if state == "failed":
            target = "http://127.0.0.1:9/"  # nothing listens there
        if state in ("opened", "crawling", "stopping"):
            site.gate.clear()
            if state != "opened":
                site.held = lambda path: path != "/robots.txt"
        blocked = state in ("closed", "failed")
        lock = write_locked(data_dir / "arsip.db") if state == "opening" else None
        if lock is not None:
            data_dir.mkdir(parents=True)
            lock.__enter__()
        proc = start_crawl(target, data_dir, state_file, stderr_path=stderr_path,
                           stdout=write_fd if blocked else None)
        drainer: threading.Thread | None = None
        try:
            pid = proc.pid
            if state == "launching":
                if not wait_for_launch(state_file, proc):
                    result.problems.append("harness: the runtime existed already")
                send(proc)
            elif state in ("starting", "spawning", "opening"):
                wait_for_state(state_file, "starting", proc)
                if state == "spawning":  # the first helper has just been born
                    wait_until(lambda: len(descendants(pid)) >= 1)
                if state == "opening":  # the helpers are up and the recorder is waiting
                    wait_until(lambda: len(descendants(pid)) >= 2)
                send(proc)
                if lock is not None:
                    wait_for_state(state_file, "stopping", proc)
                    lock.__exit__(None, None, None)
                    lock = None
            elif state in ("opened", "crawling"):
                wait_for_state(state_file, state, proc)
                wait_until(lambda: len(base.requests) >= (1 if state == "opened" else 2))
                send(proc)
                wait_for_state(state_file, "stopping", proc)
                site.gate.set()  # the requests in flight may finish now
            elif state == "stopping":
                wait_for_state(state_file, "crawling", proc)
                wait_until(lambda: len(base.requests) >= 2)
                send(proc)
                wait_for_state(state_file, "stopping", proc)
                send(proc)  # the second signal: stop now, requests in flight or not
            else:  # closed, failed: the crawl has ended and is printing its summary
                wait_for_state(state_file, state, proc)
                send(proc)
            if blocked:  # only now does anybody read what it prints
                drainer = drain(read_fd, out)
            proc.wait(timeout=120)
            result.exit_code = proc.returncode
        except BaseException:
            with suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)
            site.gate.set()
            with suppress(OSError):
                os.close(write_fd)  # our copy: the drainer sees EOF once the crawl's is gone
            if drainer is not None:
                drainer.join(timeout=30)
        if not blocked and proc.stdout is not None:
            out.append(proc.stdout.read())
            proc.stdout.close()
        # the helpers watch their parent and follow it within moments
        deadline = time.monotonic() + 20
        while (left := group_members(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        result.leftovers = left
    result.seconds = time.monotonic() - began
    result.stdout = b"".join(out).lstrip(b"\0").decode(errors="replace")
    result.stderr = stderr_path.read_text(errors="replace")
    _check_archive(result, data_dir)
    _judge(result)
    return result


def _check_archive(result: CaseResult, data_dir: Path) -> None:
    warc_dir = data_dir / "warc"
    files = sorted(warc_dir.iterdir()) if warc_dir.is_dir() else []
    result.warc_files = len(files)
    if any(f.name.endswith(".open") for f in files):
        result.warc_valid = False
    elif files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, files)],
                               capture_output=True, text=True)
        result.warc_valid = check.returncode == 0
    db = data_dir / "arsip.db"
    if not db.exists():
        return
    with sqlite3.connect(db) as conn:
        result.outcomes = [row[0] for row in
                           conn.execute("SELECT outcome FROM crawl_runs ORDER BY id")]
        captures = conn.execute("SELECT count(*) FROM captures").fetchone()[0]
    records = 0
    for path in files:
        with path.open("rb") as stream:
            records += sum(1 for r in ArchiveIterator(stream)
                           if r.rec_type in ("response", "revisit"))
    result.indexed = captures == records


def _judge(result: CaseResult) -> None:
    problems = result.problems
    if result.exit_code != result.expected_exit:
        problems.append(f"exit {result.exit_code}, expected {result.expected_exit}")
    if tuple(result.outcomes) not in result.expected_outcomes:
        problems.append(f"runs {result.outcomes}, expected one of {result.expected_outcomes}")
    if not result.warc_valid:
        problems.append("WARC files left open or invalid")
    if not result.indexed:
        problems.append("WARC records missing from the captures index")
    if result.leftovers:
        problems.append("processes left: " + "; ".join(
            f"{pid} {process_name(pid)}" for pid in result.leftovers))
    if "Traceback" in result.stderr:
        problems.append("a traceback on stderr")
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    if len(errors) > 1:
        problems.append(f"{len(errors)} Error: lines")
