"""Scrapyd crawl nodes for tests and benchmarks: real Scrapyd servers on loopback ports.

Each node has its own folder (Scrapyd's eggs, logs and queue; the node's arsip data folder)
and its own node name (``ARSIP_NODE``), and runs in a session of its own, so that killing its
process group is a machine going away: Scrapyd and every crawl process it runs, at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.test_scheduler import wait_for


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One Scrapyd server, in a session of its own."""

    name: str
    folder: Path
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def warc(self) -> Path:
        return self.folder / "arsip-data" / "warc"

    def start(self) -> None:
        port = _free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "scrapyd.conf").write_text(
            f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.2\n"
            "max_proc = 4\n", encoding="utf-8")
        # no PYTHONPATH: the jobs must run the egg ``arsip deploy`` put on the node (an
        # editable install's finder comes after the egg on sys.path; a checkout on the path
        # would not)
        env = {**os.environ, "ARSIP_DATA_DIR": str(self.folder / "arsip-data"),
               "ARSIP_NODE": self.name, **self.env}
        for name in ("ARSIP_DB_URL", "PYTHONPATH"):
            env.pop(name, None)
        with open(self.folder / "scrapyd.log", "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "scrapyd"], cwd=self.folder,
                                         stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)
        wait_for(f"Scrapyd {self.name} to answer", self.answers, timeout=60)

    def answers(self) -> bool:
        try:
            return self.api("daemonstatus.json")["status"] == "ok"
        except OSError:
            return False

    def api(self, endpoint: str) -> dict[str, Any]:
        from urllib.request import urlopen

        with urlopen(f"{self.url}/{endpoint}", timeout=5) as answer:
            return dict(json.load(answer))

    def running(self) -> list[dict[str, Any]]:
        return list(self.api("listjobs.json?project=arsip")["running"])

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """The machine goes away: Scrapyd and every crawl process it runs, at once."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
