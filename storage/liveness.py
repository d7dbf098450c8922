"""Is the process that owns a crawl run still there?

A run records its owner (the crawl process's pid and host) and a heartbeat the recorder renews.
On the owner's host the process table answers: the pid must exist, not be a zombie, and have
started before the run did (after a reboot the same pid may belong to anything). On another host
only the heartbeat can: a run silent for ``STALE_AFTER`` is taken for dead.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

from storage.records import RunOwner

# The recorder renews a run's heartbeat this often.
HEARTBEAT_SECONDS = 10.0
# A run on another host whose heartbeat is older than this is dead. Generous: a recorder can
# wait up to 30 s on a busy SQLite file, and a PostgreSQL commit on a loaded server takes a while.
STALE_AFTER = timedelta(minutes=3)
# /proc start times are in clock ticks since a boot time given in whole seconds.
_START_SLACK_SECONDS = 5.0


def this_process() -> RunOwner:
    """The owner to record for a run this process starts."""
    return RunOwner(pid=os.getpid(), host=socket.gethostname())


def run_is_alive(pid: int | None, host: str | None, started_at: datetime,
                 heartbeat_at: datetime | None, now: datetime | None = None) -> bool:
    """Whether the process that owns a run is still there (see the module docs)."""
    if pid is None or host is None:
        return False  # a run from before runs had owners: nobody can be waiting on it
    if host == socket.gethostname():
        return process_running_since(pid, started_at)
    last = heartbeat_at or started_at
    return (now or datetime.now(UTC)) - last < STALE_AFTER


def process_running_since(pid: int, not_after: datetime) -> bool:
    """Whether ``pid`` is a live process on this host that started no later than
    ``not_after`` (give or take the clock's grain)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    except OSError:  # no /proc (macOS, BSD): ask the kernel whether the pid exists at all
        return _pid_exists(pid)
    if fields[0] in ("Z", "X"):  # exited, waiting to be reaped
        return False
    try:
        ticks = int(fields[19])  # field 22, starttime, counted after the ")"
        started = _boot_time() + ticks / os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return True
    return started <= not_after.timestamp() + _START_SLACK_SECONDS


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
