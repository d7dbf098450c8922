"""Named errors for the storage layer (which never imports the crawler)."""

from __future__ import annotations


class StorageError(Exception):
    """An expected storage failure that the user can act on."""


class DatabaseError(StorageError):
    """The database cannot be opened, migrated or written."""


class WarcError(StorageError):
    """A WARC file cannot be written or read."""


class DiskFullError(WarcError):
    """The disk holding the WARC folder is full."""


class CaptureNotFoundError(StorageError):
    """No capture matches the URL and time asked for."""


class SiteBusyError(StorageError):
    """Another live crawl run of the site holds its run lock."""

    # what a refused crawl's ``Error:`` line says: the daemon tells a refusal by it
    PHRASE = "is already being crawled by run"

    def __init__(self, site: str, run_id: int, pid: int | None, host: str | None) -> None:
        self.site, self.run_id, self.pid, self.host = site, run_id, pid, host
        super().__init__(f"site {site!r} {self.PHRASE} {run_id} "
                         f"(pid {pid} on {host}); one crawl per site at a time")
