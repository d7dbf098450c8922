"""Is the process that owns a crawl run still there?

A run records its owner: the crawl process's pid, its host, and -- where the kernel tells it --
the process's identity, ``BOOT_ID:START_TICKS`` (the boot it belongs to, and when it started
in clock ticks since that boot). On the owner's host the process table answers: the pid must
exist, not be a zombie, and still have that identity. No wall clock takes part, so a clock that
jumps (NTP stepping it, a VM resumed) cannot make a live run look dead, and a pid the kernel
has given to another process since -- after a reboot, or after many processes -- cannot keep a
dead run alive: the other process started at another tick, or in another boot.

Two cases on the same host name still need the heartbeat. A process in another PID namespace
(two containers given one ``hostname:``) is not in this process table, so a live run there
would look dead: the identity carries the owner's PID namespace, ``BOOT_ID:START_TICKS/NS``, and
a run from another namespace is judged like one from another host. And where the kernel gives no
identity (no /proc: macOS, BSD), a pid that exists may be another process's since a reboot, so
a run also needs a fresh heartbeat to count as alive.

On another host only the heartbeat the recorder renews can answer: a run silent for
``STALE_AFTER`` is taken for dead. Its age is measured on one clock, the database's
(``Archive.running_runs``), so two machines whose clocks disagree still agree on it.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from storage.records import RunOwner

# The recorder renews a run's heartbeat this often.
HEARTBEAT_SECONDS = 10.0
# A run on another host whose heartbeat is older than this is dead. Generous: a recorder can
# wait up to 30 s on a busy SQLite file, and a PostgreSQL commit on a loaded server takes a while.
STALE_AFTER = timedelta(minutes=3)
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


_PID_NAMESPACE = Path("/proc/self/ns/pid")


def this_process() -> RunOwner:
    """The owner to record for a run this process starts."""
    pid = os.getpid()
    identity = process_identity(pid)
    namespace = _pid_namespace()
    if identity is not None and namespace is not None:
        identity = f"{identity}/{namespace}"
    return RunOwner(pid=pid, host=socket.gethostname(), identity=identity)


def _pid_namespace() -> str | None:
    """The inode of this process's PID namespace (``pid:[4026531836]`` -> ``4026531836``)."""
    try:
        return os.readlink(_PID_NAMESPACE).partition("[")[2].rstrip("]") or None
    except OSError:
        return None


def process_identity(pid: int) -> str | None:
    """``BOOT_ID:START_TICKS`` of a live process on this host; None when it is gone, a zombie,
    or the system does not say (no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = _BOOT_ID.read_text().strip()
    except OSError:
        return None
    if fields[0] in ("Z", "X"):  # exited, waiting to be reaped
        return None
    try:
        return f"{boot}:{int(fields[19])}"  # field 22, starttime, counted after the ")"
    except (IndexError, ValueError):
        return None


def run_is_alive(pid: int | None, host: str | None, identity: str | None,
                 heartbeat_age: timedelta | None) -> bool:
    """Whether the process that owns a run is still there (see the module docs).
    ``heartbeat_age``: how long ago the run last gave a sign of life, on the database's clock."""
    if pid is None or host is None:
        return False  # a run from before runs had owners: nobody can be waiting on it
    fresh = heartbeat_age is not None and heartbeat_age < STALE_AFTER
    if host != socket.gethostname():
        return fresh
    if identity is not None and _BOOT_ID.exists():
        boot_ticks, _, namespace = identity.partition("/")
        if namespace and namespace != _pid_namespace():
            return fresh  # another PID namespace: this process table cannot see it
        return process_identity(pid) == boot_ticks
    # no identity (no /proc): the pid must exist, and may be someone else's since a reboot
    return _pid_exists(pid) and (heartbeat_age is None or fresh)


def _pid_exists(pid: int) -> bool:
    if Path("/proc/self/stat").exists():
        return process_identity(pid) is not None  # there, and not a zombie
    try:  # no /proc (macOS, BSD): ask the kernel whether the pid exists at all
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True



def heartbeat_age(now: datetime, heartbeat_at: datetime | None) -> timedelta | None:
    """How long ago a run's last heartbeat was, both instants read from one clock."""
    return None if heartbeat_at is None else now - heartbeat_at
