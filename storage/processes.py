"""Helper processes of a crawl (the recorder, the extraction workers) and the shutdown signals.

One process decides when a crawl stops: the crawl process. A terminal, systemd and a daemon send
SIGINT, SIGTERM or SIGHUP to the whole process group, so every helper gets them too; a helper
that acted on them would die mid-write or print a traceback. So helpers ignore all three for
their whole life and are told to stop by the crawl process (and exit when it dies).

"Their whole life" includes the second or so a spawned interpreter spends importing before its
own code runs. A helper is therefore spawned with the three signals blocked in the thread that
spawns it (the mask survives ``exec``), and its first act is ``become_helper``: ignore them,
then unblock. A signal that arrives in between stays pending in the helper and is discarded
when it is ignored; in the crawl process it is delivered as soon as the spawn returns.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import context, resource_tracker
from typing import Any

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def handle_shutdown_signal(signum: int, handler: Any) -> None:
    """Install ``handler`` for ``signum``, unless the process was started with that signal
    ignored: ``nohup arsip daemon &`` must outlive the terminal it was typed in."""
    if signal.getsignal(signum) != signal.SIG_IGN:
        signal.signal(signum, handler)


@contextmanager
def shutdown_signals_blocked() -> Iterator[None]:
    """Hold SIGINT, SIGTERM and SIGHUP pending in this thread; processes spawned meanwhile are
    born with them blocked."""
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, SHUTDOWN_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def become_helper() -> None:
    """First thing in a helper process: ignore the shutdown signals for good."""
    for signum in SHUTDOWN_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SHUTDOWN_SIGNALS)


class _HelperProcess(context.SpawnProcess):
    """A spawned process born with the shutdown signals blocked, from whichever thread starts
    it (a process pool replaces its workers from a thread of its own)."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        with shutdown_signals_blocked():
            return context.SpawnProcess._Popen(process_obj)


class HelperContext(context.SpawnContext):
    """``multiprocessing``'s spawn context, for helpers: see the module docs."""

    Process = _HelperProcess


def helper_context() -> HelperContext:
    """The context to start a crawl's helper processes with.

    ``multiprocessing`` starts a resource tracker process of its own on first use; it ignores
    SIGINT and SIGTERM but not SIGHUP. Started here, inside the mask, it is deaf to all three.
    """
    with shutdown_signals_blocked():
        resource_tracker.ensure_running()
    return HelperContext()
