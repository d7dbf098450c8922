"""The recorder's open batch, kept so that it can be written again when the database drops it.

A recorder writes in batches: one transaction, committed every half second. On PostgreSQL that
transaction can be lost without anything being wrong with what it holds: the server ends it to
break a deadlock with another node's recorder (two crawls meeting on the same pages in another
order), or ends the connection itself (a restart, a failover, ``pg_terminate_backend``). The
WARC records are on disk by then; only their rows are gone. ``Journal`` keeps every write of
the open batch as the call that made it, and when the database drops the batch it waits for
the database, makes the calls again on a new connection, in order, and carries on. A failure
that is not one of those (a constraint, a full disk, SQLite's lock timeout) is raised as before.

Capture ids cross calls (an article links to the id of its capture): a capture written again
gets a new id, so ``capture_id`` maps an id handed out before to the one it has now.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from storage.errors import DatabaseError

if TYPE_CHECKING:
    from storage.archive import Archive

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a batch the database dropped is tried again before the recorder gives up: a
# PostgreSQL restart or failover takes seconds; a server that stays away is a failure.
RETRY_SECONDS = 120.0
# The first wait between tries; it doubles up to the last.
FIRST_WAIT, LAST_WAIT = 0.1, 5.0

# SQLSTATEs of a transaction the server ended for reasons of its own: serialization failure,
# deadlock, administrator or crash shutdown, cannot connect now (starting up), and the
# connection exceptions (class 08).
_DROPPED = frozenset({"40001", "40P01", "57P01", "57P02", "57P03"})


def batch_was_dropped(exc: BaseException) -> bool:
    """Whether ``exc`` (a ``DatabaseError`` from the archive) means that PostgreSQL ended the
    transaction or its connection, so that the same writes can simply be made again."""
    from sqlalchemy.exc import DBAPIError

    cause = exc.__cause__ if isinstance(exc, DatabaseError) else exc
    if not isinstance(cause, DBAPIError):
        return False
    if cause.connection_invalidated:
        return True
    orig = cause.orig
    module = type(orig).__module__ or ""
    if not module.startswith("psycopg"):
        return False  # SQLite's errors are its own: a lock timeout is not worth repeating
    state = getattr(orig, "sqlstate", None)
    if state is None:
        # no server answer at all: the connection failed, or could not be made (a restart)
        import psycopg

        return isinstance(orig, psycopg.OperationalError)
    return state in _DROPPED or state.startswith("08")


def while_dropped(call: Callable[[], T], *, seconds: float,
                  on_drop: Callable[[DatabaseError], None],
                  sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, made again while the database drops the transaction or the connection
    (``batch_was_dropped``), for up to ``seconds``, waiting longer each time; ``on_drop`` is
    told of each drop before the wait. Any other failure, or one past the deadline, is raised."""
    deadline = time.monotonic() + seconds
    wait = FIRST_WAIT
    while True:
        try:
            return call()
        except DatabaseError as exc:
            if not batch_was_dropped(exc) or time.monotonic() >= deadline:
                raise
            on_drop(exc)
        sleep(wait)
        wait = min(wait * 2, LAST_WAIT)


@dataclass
class _Write:
    call: Callable[[], object]
    first_result: object
    capture: bool


class Journal:
    """The writes of the archive's open batch (see the module docs); use from one thread."""

    def __init__(self, archive: Archive, *, retry_seconds: float = RETRY_SECONDS,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.archive = archive
        self.retry_seconds = retry_seconds
        self.sleep = sleep
        self.writes: list[_Write] = []
        self.moved: dict[int, int] = {}  # capture id handed out -> its id after a replay
        self.replays = 0  # batches written again (the run's figures say so)

    def write(self, call: Callable[[], T], *, capture: bool = False) -> T:
        """Make one write of the batch, and keep it (``capture``: it returns a capture's id)."""
        result = self._attempt(call)
        self.writes.append(_Write(call, result, capture))
        return result

    def read(self, call: Callable[[], T]) -> T:
        """A read inside the batch (it sees the batch's own rows), made again after a replay."""
        return self._attempt(call)

    def commit(self) -> None:
        """Commit the batch; when the database drops it, write it again and commit that."""
        self._attempt(self.archive.commit)
        self.writes.clear()

    def capture_id(self, capture_id: int | None) -> int | None:
        """The id a capture has now, given the one it was handed out with."""
        if capture_id is None:
            return None
        return self.moved.get(capture_id, capture_id)

    def _attempt(self, call: Callable[[], T]) -> T:
        replay = False  # the batch was dropped: it is written again before ``call``

        def once() -> T:
            nonlocal replay
            if replay:
                self._replay()
                replay = False
            return call()

        def dropped(exc: DatabaseError) -> None:
            nonlocal replay
            if not replay:
                logger.warning("The database dropped the open batch (%s); writing its %d "
                               "writes again", exc, len(self.writes))
            replay = True
            with contextlib.suppress(Exception):
                self.archive.rollback()

        return while_dropped(once, seconds=self.retry_seconds, on_drop=dropped,
                             sleep=self.sleep)

    def _replay(self) -> None:
        self.replays += 1
        for write in self.writes:
            result = write.call()
            if write.capture and isinstance(write.first_result, int) and isinstance(result, int):
                # keyed by the id first handed out: that is the one callers still hold
                if result != write.first_result:
                    self.moved[write.first_result] = result
                else:
                    self.moved.pop(write.first_result, None)
