"""The crawl's runtime: its states, every signal in every state, and a death in each.

The end-to-end cases start a real ``arsip crawl`` against the fixture site and wait for states
the crawl reports (``tests/signal_cases.py``); none waits on a sleep. ``bench/signals.py`` runs the
same matrix many times over.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import get_args

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.runtime import NEXT, CrawlRuntime, CrawlState, TransitionError
from storage.protocol import FromRecorder, Opened
from tests.conftest import REPO, run_arsip, slow_site
from tests.newsite import build_site, serve
from tests.signal_cases import (
    QUICK,
    SIGNALS,
    STATES,
    descendants,
    group_members,
    run_case,
    screen_of,
    states_reported,
    the_error_line,
    wait_for_state,
    wait_until,
    write_locked,
)
from tests.test_failures import captures_are_readable, warcio_check

# --- the state machine, in this process ---------------------------------------------------------


def test_states_and_their_transitions_are_named_in_one_place() -> None:
    assert [str(s) for s in CrawlState] == ["starting", "opened", "crawling", "stopping",
                                            "closed", "failed"]
    assert set(NEXT) == set(CrawlState)
    # every state but the two ends can stop; only STOPPING ends
    for state in CrawlState:
        if state in (CrawlState.CLOSED, CrawlState.FAILED):
            assert not NEXT[state]
        elif state is CrawlState.STOPPING:
            assert NEXT[state] == {CrawlState.CLOSED, CrawlState.FAILED}
        else:
            assert CrawlState.STOPPING in NEXT[state]


def test_every_allowed_transition_is_reported_and_no_other_is_possible(tmp_path: Path) -> None:
    for state, allowed in NEXT.items():
        for target in CrawlState:
            runtime = CrawlRuntime(state_file=tmp_path / f"{state}-{target}.jsonl")
            seen: list[CrawlState] = []
            runtime.watch(lambda r, seen=seen: seen.append(r.state))
            runtime.state = state
            if target in allowed:
                runtime._enter(target)
                assert runtime.state is target and seen == [target]
                assert states_reported(tmp_path / f"{state}-{target}.jsonl")[-1] == target
            else:
                with pytest.raises(TransitionError):
                    runtime._enter(target)
                assert runtime.state is state and seen == []


def test_exit_codes_follow_the_first_reason_to_stop() -> None:
    runtime = CrawlRuntime()
    runtime.responded = True
    runtime.request_stop("signal", signal.SIGTERM)
    runtime.request_stop("fatal")  # later reasons do not change the outcome
    runtime.close()
    assert (runtime.state, runtime.decide_outcome(), runtime.exit_code()) == (
        CrawlState.CLOSED, "interrupted", 143)
    done = CrawlRuntime()
    done.responded = True
    done.close()
    assert (done.state, done.decide_outcome(), done.exit_code()) == (
        CrawlState.CLOSED, "finished", 0)
    nothing = CrawlRuntime()  # nothing answered and nobody stopped it: the site is unreachable
    nothing.close()
    assert (nothing.state, nothing.decide_outcome(), nothing.exit_code()) == (
        CrawlState.FAILED, "unreachable", 1)


def test_a_signal_after_the_crawl_ended_by_itself_changes_nothing(
        capsys: pytest.CaptureFixture[str]) -> None:
    # it ran out of work and is writing out (STOPPING for STOP_DONE) when a SIGTERM comes: it
    # is not "stopping" because of it, and it still ends as done
    runtime = CrawlRuntime()
    runtime.responded = True
    runtime._begin_stop("finished")
    runtime.signals.append(signal.SIGTERM)
    runtime._signalled(signal.SIGTERM, 1)
    said = capsys.readouterr().err
    assert "SIGTERM: the crawl has ended; writing out what was fetched." in said
    assert "Stopping" not in said
    runtime.close()
    assert (runtime.state, runtime.decide_outcome(), runtime.exit_code()) == (
        CrawlState.CLOSED, "finished", 0)


def test_a_fatal_reply_wins_over_no_responses() -> None:
    # defect 3: an archive that could not be opened was reported as "could not reach"
    from storage.protocol import Fatal

    runtime = CrawlRuntime()
    runtime._fatal(Fatal("cannot open database x: refused"))
    runtime.close()
    assert runtime.state is CrawlState.FAILED and runtime.exit_code() == 1
    assert runtime.decide_outcome() == "failed"


def test_every_reply_kind_is_handled_by_the_crawl() -> None:
    from storage.protocol import Closed, Fatal, Note

    samples = {Opened: Opened(1, 1, False), Fatal: Fatal("x"), Note: Note("x"),
               Closed: Closed({})}
    # a new reply kind must get a sample here and a case in RecorderClient._take and
    # CrawlRuntime.pump
    assert set(samples) == set(get_args(FromRecorder))
    from storage.recorder import RecorderClient

    client = RecorderClient.__new__(RecorderClient)
    client.run = client.fatal = client.final = None
    for reply in samples.values():
        client._take(reply)
    with pytest.raises(TypeError):
        client._take(object())  # type: ignore[arg-type]


def test_a_signal_while_arsip_starts_is_held_then_acted_on(tmp_path: Path) -> None:
    # before a command has taken charge of the signals (crawler.launch): recorded, not acted
    # on; `arsip crawl` hands them to its runtime (see the "launching" state below), any other
    # command ends at once with one line
    from click.testing import CliRunner

    from crawler.cli import main
    from crawler.launch import HELD, HeldSignals
    from storage.processes import SHUTDOWN_SIGNALS

    assert HELD == SHUTDOWN_SIGNALS
    previous = {signum: signal.getsignal(signum) for signum in HELD}
    try:
        held = HeldSignals()
        signal.raise_signal(signal.SIGTERM)  # recorded: this process carries on
        assert held.received == [signal.SIGTERM]
        result = CliRunner().invoke(main, ["status", "--data-dir", str(tmp_path)], obj=held)
        assert result.exit_code == 143
        assert result.output.strip() == "Error: interrupted (SIGTERM) before `arsip status` began"
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL  # released
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def test_a_stop_signal_started_ignored_stays_ignored() -> None:
    """``nohup arsip ...``: holding, releasing and every later handler keep SIGHUP ignored."""
    from crawler.launch import HELD, HeldSignals
    from storage.processes import handle_shutdown_signal

    previous = {signum: signal.getsignal(signum) for signum in HELD}
    try:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        held = HeldSignals()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == held._record
        handle_shutdown_signal(signal.SIGHUP, print)
        handle_shutdown_signal(signal.SIGTERM, print)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is print
        held.release()
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


# --- every signal in every state ----------------------------------------------------------------


# Each state once here, the three signals taking turns (each one at least twice); the whole
# matrix, every signal in every state many times over, is bench/signals.py.
SIGNAL_IN_STATE = [(state, list(SIGNALS)[i % len(SIGNALS)]) for i, state in enumerate(STATES)]


@pytest.mark.parametrize(("state", "signame"), SIGNAL_IN_STATE)
def test_a_signal_in_each_state_ends_the_crawl_cleanly(tmp_path: Path, state: str,
                                                       signame: str) -> None:
    result = run_case(signame, state, tmp_path)
    assert result.clean, (result.problems, result.stderr)
    if state not in ("closed", "failed"):
        # the user is told what happens, once, and what was kept
        assert f"Error: interrupted ({'Ctrl-C' if signame == 'SIGINT' else signame})" in \
            result.stderr
    if state in ("opened", "crawling", "stopping"):
        assert "arsip crawl summary" in result.stdout


@pytest.mark.parametrize(("signame", "state"), [("SIGINT", "starting"), ("SIGTERM", "opening"),
                                                ("SIGTERM", "crawling"), ("SIGHUP", "stopping")])
def test_a_signal_to_the_crawl_process_alone_ends_it_the_same_way(
        tmp_path: Path, signame: str, state: str) -> None:
    result = run_case(signame, state, tmp_path, to_group=False)
    assert result.clean, (result.problems, result.stderr)


def test_ctrl_c_is_acknowledged_at_once(tmp_path: Path) -> None:
    # defect 6: the first Ctrl-C said nothing for seconds while the progress kept counting.
    # Here every request is held at the server: the line can only come from the signal itself.
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    state_file, err = tmp_path / "state.jsonl", tmp_path / "err.txt"
    with serve(site) as base, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", base, "--data-dir",
             str(tmp_path / "d"), *QUICK, "-s", f"ARSIP_STATE_FILE={state_file}"],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        try:
            wait_for_state(state_file, "crawling", proc)
            wait_until(lambda: len(base.requests) >= 2)
            os.killpg(proc.pid, signal.SIGINT)
            wait_until(lambda: "Stopping (Ctrl-C)" in err.read_text())
            line = next(x for x in err.read_text().splitlines() if x.startswith("Stopping"))
            assert "request" in line and "Ctrl-C again to stop now" in line
            assert proc.poll() is None  # still waiting for the held requests
        finally:
            site.gate.set()
            proc.wait(timeout=120)
    assert proc.returncode == 130


def test_a_third_ctrl_c_leaves_at_once_and_the_next_crawl_repairs(tmp_path: Path) -> None:
    # the recorder cannot commit (the test holds the database's write lock), so after a second
    # Ctrl-C the crawl waits for it to write out; a third abandons it and exits at once
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    data_dir, state_file, err = tmp_path / "d", tmp_path / "state.jsonl", tmp_path / "err.txt"
    db = data_dir / "arsip.db"
    with serve(site) as base:
        proc = _crawl(base, data_dir, state_file, err)
        try:
            wait_for_state(state_file, "crawling", proc)
            wait_until(lambda: len(base.requests) >= 2)
            with write_locked(db):
                os.killpg(proc.pid, signal.SIGINT)
                wait_for_state(state_file, "stopping", proc)
                os.killpg(proc.pid, signal.SIGINT)
                wait_until(lambda: "Stopping now" in err.read_text())
                assert proc.poll() is None  # waiting for the recorder, which waits for the lock
                os.killpg(proc.pid, signal.SIGINT)
                proc.communicate(timeout=30)
                assert proc.returncode == 130
                assert _gone(proc.pid)  # the recorder was killed, the workers followed
        finally:
            site.gate.set()
        assert "Traceback" not in err.read_text()
        files = sorted((data_dir / "warc").iterdir())
        assert [f for f in files if f.name.endswith(".open")]  # left for the next crawl
        again = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK)
    assert again.returncode == 0, again.stderr
    assert "Recovered WARC file" in again.stderr
    assert _outcomes(db) == ["killed", "finished"]
    files = sorted((data_dir / "warc").iterdir())
    assert not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)


# A stand-in for the daemon: starts the crawl as `arsip daemon` does (ARSIP_DAEMON_PID, a session
# of its own), prints its pid and waits to be killed.
_DAEMON_STAND_IN = """
import os, subprocess, sys, time
env = dict(os.environ, ARSIP_DAEMON_PID=str(os.getpid()))
with open(sys.argv[1], "wb") as err:
    crawl = subprocess.Popen(sys.argv[2:], env=env, stdout=subprocess.DEVNULL, stderr=err,
                             start_new_session=True)
print(crawl.pid, flush=True)
time.sleep(600)
"""


def test_a_killed_daemons_repeated_sigterms_count_as_one_clean_stop(tmp_path: Path) -> None:
    # A SIGKILLed daemon's kernel sends its crawl SIGTERM once per dying thread (up to three);
    # the crawl's parent is the daemon until the last. Three SIGTERMs while the daemon lives,
    # then its SIGKILL (a fourth, from the kernel): one clean stop, nothing abandoned.
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    data_dir, state_file, err = tmp_path / "d", tmp_path / "state.jsonl", tmp_path / "err.txt"
    with serve(site) as base:
        daemon = subprocess.Popen(
            [sys.executable, "-c", _DAEMON_STAND_IN, str(err), sys.executable, "-m", "crawler",
             "crawl", base, "--data-dir", str(data_dir), *QUICK,
             "-s", f"ARSIP_STATE_FILE={state_file}"],
            cwd=REPO, stdout=subprocess.PIPE, start_new_session=True)
        try:
            assert daemon.stdout is not None
            crawl = int(daemon.stdout.readline())
            wait_for_state(state_file, "crawling", daemon)
            wait_until(lambda: len(base.requests) >= 2)
            os.kill(crawl, signal.SIGTERM)
            wait_for_state(state_file, "stopping", daemon)
            for _ in range(2):
                time.sleep(0.2)  # two pending SIGTERMs would merge into one
                os.kill(crawl, signal.SIGTERM)
            daemon.kill()
            daemon.wait(timeout=30)
            time.sleep(2)  # past DAEMON_DYING_WAIT: the repeats are judged before the gate opens
        finally:
            site.gate.set()
        wait_until(lambda: states_reported(state_file)[-1:] == ["closed"], timeout=120)
        wait_until(lambda: not os.path.exists(f"/proc/{crawl}"), timeout=60)
    text = err.read_text()
    assert "Traceback" not in text and "Stopping now" not in text, text
    assert "the daemon is gone; the crawl still stops cleanly" in text
    assert _outcomes(data_dir / "arsip.db") == ["interrupted"]
    files = sorted((data_dir / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)


# --- a death in each state ----------------------------------------------------------------------


def _recorder_of(crawl_pid: int, db: Path) -> int:
    """The crawl's recorder: the helper that has the database open."""
    for pid in descendants(crawl_pid):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(db):
                    return pid
            except OSError:
                continue
    raise AssertionError("no recorder found")


def _crawl(base: str, data_dir: Path, state_file: Path, err: Path) -> subprocess.Popen[bytes]:
    with err.open("wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
             *QUICK, "-s", f"ARSIP_STATE_FILE={state_file}"],
            cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, start_new_session=True)


def _gone(pgid: int) -> bool:
    deadline = time.monotonic() + 30
    while group_members(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not group_members(pgid)


def _outcomes(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [row[0] for row in conn.execute("SELECT outcome FROM crawl_runs ORDER BY id")]


@pytest.mark.parametrize("state", ["opened", "crawling", "stopping"])
def test_the_crawl_process_dying_in_each_state_loses_nothing(tmp_path: Path, state: str) -> None:
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    if state != "opened":
        site.held = lambda path: path != "/robots.txt"
    data_dir, state_file = tmp_path / "d", tmp_path / "state.jsonl"
    with serve(site) as base:
        proc = _crawl(base, data_dir, state_file, tmp_path / "err.txt")
        try:
            wait_for_state(state_file, "opened" if state == "opened" else "crawling", proc)
            wait_until(lambda: len(base.requests) >= 1)
            if state == "stopping":
                os.killpg(proc.pid, signal.SIGINT)
                wait_for_state(state_file, "stopping", proc)
            proc.kill()  # the crawl process alone; its recorder sees the pipe break
            proc.wait(timeout=30)
            assert _gone(proc.pid)  # the helpers followed it
        finally:
            site.gate.set()
    files = sorted((data_dir / "warc").iterdir()) if (data_dir / "warc").exists() else []
    assert not [f for f in files if f.name.endswith(".open")]
    if files:
        warcio_check(files)
    captures_are_readable(data_dir / "arsip.db", data_dir / "warc")
    # the recorder wrote the run's end itself: the crawl process was killed
    assert _outcomes(data_dir / "arsip.db") == ["killed"]


@pytest.mark.parametrize("state", ["opening", "crawling", "stopping"])
def test_the_recorder_dying_in_each_state_fails_the_crawl_cleanly(tmp_path: Path,
                                                                  state: str) -> None:
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    data_dir, state_file, err = tmp_path / "d", tmp_path / "state.jsonl", tmp_path / "err.txt"
    db = data_dir / "arsip.db"
    data_dir.mkdir()
    with serve(site) as base:
        lock = write_locked(db) if state == "opening" else None
        if lock is not None:
            lock.__enter__()
        proc = _crawl(base, data_dir, state_file, err)
        try:
            if state == "opening":
                wait_for_state(state_file, "starting", proc)
                wait_until(lambda: len(descendants(proc.pid)) >= 2)
                wait_until(lambda: _recorder_pid_or_none(proc.pid, db) is not None)
            else:
                wait_for_state(state_file, "crawling", proc)
                wait_until(lambda: len(base.requests) >= 2)
                if state == "stopping":
                    os.killpg(proc.pid, signal.SIGINT)
                    wait_for_state(state_file, "stopping", proc)
            os.kill(_recorder_of(proc.pid, db), signal.SIGKILL)
            # with the recorder gone nothing in flight could be archived: the crawl does not
            # wait for the requests the server still holds
            wait_for_state(state_file, "failed", proc)
            site.gate.set()
            proc.communicate(timeout=120)
        finally:
            if lock is not None:
                lock.__exit__(None, None, None)
            site.gate.set()
        assert proc.returncode == 1
        assert _gone(proc.pid)
        assert "recorder process stopped" in the_error_line(err.read_text())
        if state == "opening":
            assert _outcomes(db) == []
            return
        # the run outlived its process; read-only status already shows it dead, writing nothing
        status = run_arsip("status", "--json", "--data-dir", str(data_dir))
        assert json.loads(status.stdout)["last_runs"][0]["outcome"] == "killed"
        assert _outcomes(db) == ["running"]
        # the next crawl marks it killed, repairs its WARC file and carries on
        again = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK)
    assert again.returncode == 0, again.stderr
    assert _outcomes(db) == ["killed", "finished"]
    files = sorted((data_dir / "warc").iterdir())
    assert not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)


def test_a_recorder_failing_mid_crawl_ends_it_at_once_as_failed(tmp_path: Path) -> None:
    # the database refuses this run's third capture (a trigger; recovery re-indexes without a
    # run, so it passes): the recorder gives up, the crawl stops at once with one line, the
    # WARC file is recovered and fully indexed, the run is recorded failed
    from storage.archive import Archive

    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: "slow" in path
    data_dir, state_file, err = tmp_path / "d", tmp_path / "state.jsonl", tmp_path / "err.txt"
    db = data_dir / "arsip.db"
    data_dir.mkdir()
    Archive.open(f"sqlite:///{db}").close()
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TRIGGER boom BEFORE INSERT ON captures WHEN NEW.run_id IS NOT NULL "
                     "AND (SELECT count(*) FROM captures WHERE run_id = NEW.run_id) >= 2 "
                     "BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END")
    with serve(site) as base:
        proc = _crawl(base, data_dir, state_file, err)
        try:
            wait_for_state(state_file, "failed", proc)
            proc.communicate(timeout=120)
        finally:
            site.gate.set()
    assert proc.returncode == 1
    assert _gone(proc.pid)
    assert "refused by a test trigger" in the_error_line(err.read_text())
    assert states_reported(state_file)[-2:] == ["stopping", "failed"]
    assert _outcomes(db) == ["failed"]
    files = sorted((data_dir / "warc").iterdir())
    assert files and not [f for f in files if f.name.endswith(".open")]
    warcio_check(files)
    records = sum(1 for f in files for r in ArchiveIterator(f.open("rb"))
                  if r.rec_type in ("response", "revisit"))
    assert captures_are_readable(db, data_dir / "warc") == records >= 2


def _recorder_pid_or_none(crawl_pid: int, db: Path) -> int | None:
    try:
        return _recorder_of(crawl_pid, db)
    except AssertionError:
        return None


def test_an_extraction_worker_dying_costs_no_article(tmp_path: Path) -> None:
    site = build_site(n_articles=8)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    data_dir, state_file = tmp_path / "d", tmp_path / "state.jsonl"
    with serve(site) as base:
        proc = _crawl(base, data_dir, state_file, tmp_path / "err.txt")
        try:
            wait_for_state(state_file, "crawling", proc)
            db = data_dir / "arsip.db"
            recorder = _recorder_of(proc.pid, db)
            workers = [pid for pid in descendants(proc.pid) if pid != recorder
                       and b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
            assert workers
            os.kill(workers[0], signal.SIGKILL)
        finally:
            site.gate.set()
        proc.communicate(timeout=120)
    assert proc.returncode == 0
    stored = run_arsip("export", "--data-dir", str(data_dir))
    urls = {json.loads(line)["url"] for line in stored.stdout.splitlines()}
    assert {spec.url(base) for spec in site.articles if "slow" not in spec.flags} <= urls


# --- Ctrl-C twice: what the summary says, and the progress line ----------------------------------


def _double_ctrl_c(tmp_path: Path, *, stdout: int, stderr: int,
                   progress: str = "--no-progress") -> tuple[subprocess.Popen[bytes], Path]:
    site = slow_site(40, 0.3)
    data_dir, state_file = tmp_path / "d", tmp_path / "state.jsonl"
    args = [a for a in QUICK if a != "--no-progress"]
    with serve(site) as base:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", base, "--data-dir", str(data_dir),
             progress, *args, "-s", f"ARSIP_STATE_FILE={state_file}"],
            cwd=REPO, stdout=stdout, stderr=stderr, start_new_session=True)
        wait_for_state(state_file, "crawling", proc)
        # articles have been extracted and stored (and more are on their way)
        wait_until(lambda: _versions(data_dir / "arsip.db") >= 3)
        os.killpg(proc.pid, signal.SIGINT)
        wait_for_state(state_file, "stopping", proc)
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(timeout=120)
    return proc, data_dir


def _versions(db: Path) -> int:
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(*) FROM article_versions").fetchone()[0])
    except sqlite3.Error:  # not created yet
        return 0


def test_ctrl_c_twice_sums_up_what_the_archive_holds(tmp_path: Path) -> None:
    # defect 5: the summary said 0 articles stored while the database held 6
    out = tmp_path / "out.txt"
    with out.open("wb") as stdout:
        proc, data_dir = _double_ctrl_c(tmp_path, stdout=stdout, stderr=subprocess.DEVNULL)
    assert proc.returncode == 130
    with sqlite3.connect(data_dir / "arsip.db") as db:
        stored = db.execute("SELECT count(*) FROM article_versions").fetchone()[0]
        assert db.execute("SELECT outcome FROM crawl_runs").fetchall() == [("interrupted",)]
    summary = out.read_text()
    shown = int(summary.split("Articles stored (new or changed)", 1)[1].split("│")[1])
    assert shown == stored > 0


def test_the_progress_line_is_gone_before_the_summary(tmp_path: Path) -> None:
    # defect 5: after a second Ctrl-C the progress line stayed, and two more followed the summary
    import pty

    master, slave = pty.openpty()
    try:
        proc, _ = _double_ctrl_c(tmp_path, stdout=slave, stderr=slave, progress="--progress")
    finally:
        os.close(slave)
    text = screen_of(master)
    assert proc.returncode == 130
    assert "arsip crawl summary" in text and " pages · " in text  # the line was there
    # each kind of error under its own name, as in the summary and `arsip status`
    assert re.search(r"errors \d+ fetch / \d+ HTTP / \d+ extraction", text)
    after = text.split("arsip crawl summary", 1)[1]
    assert " pages · " not in after  # and never again once the summary began


# --- one crawl per site at a time ----------------------------------------------------------------


def test_a_second_crawl_of_a_busy_site_is_refused_with_one_line(tmp_path: Path) -> None:
    site = build_site(n_articles=6)
    site.gate = threading.Event()
    site.held = lambda path: path != "/robots.txt"
    data_dir, state_file = tmp_path / "d", tmp_path / "state.jsonl"
    with serve(site) as base:
        first = _crawl(base, data_dir, state_file, tmp_path / "err.txt")
        try:
            wait_for_state(state_file, "crawling", first)
            second_states = tmp_path / "second.jsonl"
            second = run_arsip("crawl", base, "--data-dir", str(data_dir), *QUICK,
                               "-s", f"ARSIP_STATE_FILE={second_states}")
            # it never opened a run, so it fetched nothing
            assert states_reported(second_states) == ["starting", "stopping", "failed"]
        finally:
            site.gate.set()
        first.communicate(timeout=120)
    assert second.returncode == 1
    error = the_error_line(second.stderr)
    assert "already being crawled by run 1" in error and f"pid {first.pid}" in error
    assert first.returncode == 0
    assert _outcomes(data_dir / "arsip.db") == ["finished"]  # the refused one left no run


def test_an_error_python_ignores_at_exit_goes_to_the_log_not_the_terminal(tmp_path: Path) -> None:
    # Python 3.11's process pool can raise in its exit hook after a crawl stopped it without
    # waiting (an OSError on a closed pipe, seen after a recorder died while stopping); the
    # default hook printed that traceback under the crawl's one Error: line
    log = tmp_path / "crawl.log"
    code = (
        "from pathlib import Path\n"
        "from crawler.run import _configure_logging, build_settings\n"
        f"_configure_logging(build_settings({{}}), Path({str(log)!r}), False)\n"
        "class Closing:\n"
        "    def __del__(self):\n"
        "        raise OSError(9, 'Bad file descriptor')\n"
        "Closing()\n"
        "print('done')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0
    assert proc.stdout == "done\n"
    assert proc.stderr == ""
    kept = log.read_text()
    assert "Exception ignored in" in kept
    assert "OSError: [Errno 9] Bad file descriptor" in kept
