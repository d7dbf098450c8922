"""The crawl's side of being started by the daemon: end with it.

A crawl runs in a session of its own (``scheduler.runner``), so nothing sent to the daemon's
process group reaches it. If the daemon is killed outright (SIGKILL, the OOM killer) it cannot
stop its crawls; the kernel can: Linux's ``PR_SET_PDEATHSIG`` sends the crawl SIGTERM when its
parent dies, and the crawl stops the clean way it stops on any SIGTERM. The setting is made by
the crawl itself, early in ``arsip crawl``: the daemon starts crawls while APScheduler's thread
runs, where a ``preexec_fn`` is not safe. The daemon has threads, and the kernel can send the
signal twice as it dies (seen ~10 ms apart: the crawl is handed to another of the dying daemon's
threads, then to init); a crawl takes the second as "stop now", which still writes out and
indexes everything it fetched.
"""

from __future__ import annotations

import os
import signal
import sys

from scheduler.runner import DAEMON_PID_ENV

_PR_SET_PDEATHSIG = 1


class DaemonGoneError(Exception):
    """The daemon that started this crawl died before the crawl could start."""


def exit_with_daemon(environ: dict[str, str] | os._Environ[str] = os.environ) -> bool:
    """When started by the daemon, have the kernel send SIGTERM when the daemon dies; True if
    that is set up. ``DaemonGoneError`` when the daemon is already gone."""
    value = environ.get(DAEMON_PID_ENV)
    if not value or not value.isdigit():
        return False
    armed = False
    if sys.platform.startswith("linux"):
        import ctypes.util  # here: most crawls are not the daemon's

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        armed = libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) == 0
    # the daemon may have died between starting us and the line above: then no signal comes
    if os.getppid() != int(value):
        raise DaemonGoneError("the daemon that started this crawl is gone; not crawling")
    return armed
