"""The ``arsip`` command as the system starts it: shutdown signals are held from the first
moment, before the command line interface is even imported.

Importing the CLI and what its commands need takes a good part of a second. A Ctrl-C in that
time printed a ``KeyboardInterrupt`` traceback, and could end the process with exit 1; so this
module imports nothing but ``signal`` before it holds SIGINT, SIGTERM and SIGHUP: they are
recorded, not acted on. ``arsip crawl`` hands the ones recorded to its runtime, which then stops
before starting anything (exit 128 + N, one line); ``arsip daemon`` keeps them held while it
opens its log and database, then stops before running anything (exit 0, one log line). Every
other command gets the usual actions
back when it starts, and ends at once, with one line, if a signal came meanwhile.

``python -m crawler`` starts the same way; ``python -m crawler.cli`` does not.
"""

from __future__ import annotations

import signal
from typing import Any

# the same as storage.processes.SHUTDOWN_SIGNALS, which imports multiprocessing (50 ms)
HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class HeldSignals:
    """Shutdown signals received before a command took charge of them, in order."""

    def __init__(self) -> None:
        self.received: list[int] = []
        # One the process was started with ignored (``nohup``, a script's ``cmd &``) stays
        # ignored for good: that was the user's choice, and every handler after this one
        # keeps it (storage.processes.handle_shutdown_signal).
        self.ignored = frozenset(s for s in HELD if signal.getsignal(s) == signal.SIG_IGN)
        for signum in HELD:
            if signum not in self.ignored:
                signal.signal(signum, self._record)

    def _record(self, signum: int, _frame: Any) -> None:
        self.received.append(signum)

    def release(self) -> None:
        """Give the signals their usual actions back (a command that handles none itself)."""
        for signum in HELD:
            if signum not in self.ignored:
                signal.signal(signum, signal.default_int_handler if signum == signal.SIGINT
                              else signal.SIG_DFL)


def main() -> Any:
    held = HeldSignals()
    from crawler.cli import main as cli

    return cli.main(obj=held)
