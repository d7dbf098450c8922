"""The daemon's own log: one line per event and per run, in ``DATA_DIR/logs/daemon.log``
(rotated), and on stdout when that is a terminal. Each crawl logs to a file of its own."""

from __future__ import annotations

import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

LOG_NAME = "daemon.log"
# rotated at this size, keeping this many old files: ~60 MB at most
MAX_BYTES = 10 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)s %(message)s"


def configure_logging(logs: Path, *, to_stdout: bool) -> Path:
    """Send the daemon's log to its rotated file (and stdout); the file's path."""
    logs.mkdir(parents=True, exist_ok=True)
    path = logs / LOG_NAME
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.INFO)
    handlers: list[logging.Handler] = [
        RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")]
    if to_stdout:
        handlers.append(logging.StreamHandler(sys.stdout))
    for handler in handlers:
        handler.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(handler)
    # APScheduler reports every job it runs at INFO: the daemon's own lines say more
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return path
