"""A stand-in Scrapyd crawl node for the daemon's tests and benchmarks: Scrapyd's JSON API
(``daemonstatus.json``, ``schedule.json``, ``listjobs.json``, ``cancel.json``) on a loopback
port, in a thread, with no crawl behind it.

Each job scheduled is handed to ``crawl(job_id, settings)`` in a thread of its own, as Scrapyd
hands it to a process; the job is ``running`` while that runs and ``finished`` after. What a
job does is the test's: open and finish a run in the database as a crawl would, or nothing (a
crawl that failed before its run opened). Real Scrapyd nodes are in tests/test_scrapyd.py.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Crawl = Callable[[str, dict[str, str]], None]


@dataclass
class FakeNode:
    """What the stand-in node was asked, and its jobs."""

    crawl: Crawl
    url: str = ""
    scheduled: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    jobs: dict[str, str] = field(default_factory=dict)  # job id: pending, running, finished
    listings: int = 0
    cancelled: list[str] = field(default_factory=list)
    # seconds the node takes to answer schedule.json (having taken the job: a timeout that
    # scheduled all the same) and listjobs.json (a node that hangs)
    schedule_delay: float = 0.0
    list_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def finished(self) -> int:
        with self.lock:
            return sum(1 for state in self.jobs.values() if state == "finished")

    def _run(self, job: str, settings: dict[str, str]) -> None:
        with self.lock:
            self.jobs[job] = "running"
        try:
            self.crawl(job, settings)
        finally:
            with self.lock:
                self.jobs[job] = "finished"

    def answer(self, endpoint: str, form: dict[str, list[str]]) -> dict[str, Any]:
        if endpoint == "daemonstatus.json":
            return {"status": "ok", "node_name": "fake"}
        if endpoint == "schedule.json":
            job = form["jobid"][0]
            settings = dict(item.split("=", 1) for item in form.get("setting", []))
            with self.lock:
                self.scheduled.append((job, settings))
                self.jobs[job] = "pending"
            threading.Thread(target=self._run, args=(job, settings), daemon=True).start()
            time.sleep(self.schedule_delay)
            return {"status": "ok", "jobid": job}
        if endpoint == "listjobs.json":
            time.sleep(self.list_delay)
            with self.lock:
                self.listings += 1
                jobs = dict(self.jobs)
            listing: dict[str, Any] = {"status": "ok", "pending": [], "running": [],
                                       "finished": []}
            for job, state in jobs.items():
                listing[state].append({"id": job, "spider": "news", "pid": 0})
            return listing
        if endpoint == "cancel.json":
            job = form["job"][0]
            with self.lock:
                before = self.jobs.get(job)
                self.cancelled.append(job)
            return {"status": "ok", "prevstate": before}
        return {"status": "error", "message": f"no such endpoint: {endpoint}"}


class _Handler(BaseHTTPRequestHandler):
    node: FakeNode

    def _reply(self, form: dict[str, list[str]]) -> None:
        endpoint = urlsplit(self.path).path.strip("/")
        body = json.dumps(self.node.answer(endpoint, form)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        form: dict[str, list[str]] = {}
        for name, value in parse_qsl(urlsplit(self.path).query):
            form.setdefault(name, []).append(value)
        self._reply(form)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form: dict[str, list[str]] = {}
        for name, value in parse_qsl(self.rfile.read(length).decode()):
            form.setdefault(name, []).append(value)
        self._reply(form)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the daemon logs what it dispatched


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that gave up waiting (the daemon's timeout, on purpose in the tests)
        # closed the connection before the answer: not worth a traceback
        pass


@contextmanager
def fake_node(crawl: Crawl) -> Iterator[FakeNode]:
    """A stand-in Scrapyd node on a free loopback port, for the ``with`` block."""
    node = FakeNode(crawl)
    handler = type("Handler", (_Handler,), {"node": node})
    server = _Server(("127.0.0.1", 0), handler)
    node.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                              daemon=True)
    thread.start()
    try:
        yield node
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
