"""Crawl nodes: the Scrapyd servers ``arsip daemon --nodes`` dispatches site crawls to.

Scrapyd (the Scrapy job server) runs the crawls on each node; the daemon talks to it through
its JSON API only: ``schedule.json`` starts a job, ``listjobs.json`` says how it goes,
``cancel.json`` stops it (SIGTERM: the crawl closes its WARC file and commits; a second cancel
with SIGKILL when it does not stop in time), ``daemonstatus.json`` says a node is there.

- A crawl job is ``scrapy crawl news`` with ``ARSIP_SITE_ID`` and ``ARSIP_TRIGGER=daemon``, the
  daemon's ``-s`` settings, and the database to write (its URL without a password: a node
  reads that from its own ``PGPASSWORD`` or ``~/.pgpass``). The node's own environment names
  its data folder (``ARSIP_DATA_DIR``) and its name (``ARSIP_NODE``).
- Each node runs at most ``cap`` of the daemon's crawls at once; a crawl goes to the node with
  the fewest, in the order given.
- Failover: a node that does not answer, or refuses a job, is left out for ``DOWN_SECONDS``
  and the crawl goes to the next one. A node unreachable for ``LOST_AFTER`` seconds while one of
  its crawls runs, or that no longer knows the job (it restarted), has lost that crawl: the
  daemon dispatches the site again, once the lost run is seen dead (``storage.liveness``).
- One crawl per site at a time holds across nodes: the run lock is in the database.
- A ``schedule.json`` that fails without a clear answer (a timeout, a connection cut) may have
  scheduled the job all the same: the node's listing is asked for the job id before the crawl
  goes to another node, and a job found there is the crawl. A node that cannot be asked keeps
  the job as "unsure": it is cancelled as soon as the node answers again, so the site does not
  run twice.
- Every call is bounded by the node's ``timeout``, and a node that failed to answer is not
  asked again for ``POLL_BACKOFF`` seconds (its crawls count as unreachable meanwhile): a node
  that hangs holds up the daemon's loop once per backoff, not once per crawl and loop.

``NodeCrawl`` answers the daemon as ``scheduler.runner.RunningCrawl`` does for a local crawl;
when a job ends, its Scrapyd log is copied to the crawl's log file in ``DATA_DIR/logs``.
"""

from __future__ import annotations

import base64
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import unquote, urlencode, urlsplit, urlunsplit
from urllib.request import Request, urlopen

from scheduler.runner import log_path

logger = logging.getLogger("arsip.daemon")

PROJECT = "arsip"
SPIDER = "news"
# A node that failed to answer is not tried again for this long.
DOWN_SECONDS = 30.0
# A node unreachable this long has lost the crawls it was running.
LOST_AFTER = 30.0
# One listjobs.json answer serves every crawl of the node for this long.
JOBS_TTL = 1.0
# A node that did not answer a listing is not asked again for this long.
POLL_BACKOFF = 5.0
# Jobs kept to cancel after a schedule.json without a clear answer (the oldest go first).
MAX_UNSURE = 1000
# The tail of a finished job's log copied into the crawl's log file.
LOG_TAIL_BYTES = 4_000_000


class NodeError(Exception):
    """A crawl node did not answer, or answered with an error (``answered``: it did answer,
    so a request it refused was not carried out)."""

    def __init__(self, message: str, *, answered: bool = False) -> None:
        super().__init__(message)
        self.answered = answered


def parse_nodes(values: Iterable[str]) -> tuple[str, ...]:
    """Scrapyd URLs from ``--nodes`` values (each may hold several, comma-separated)."""
    urls: list[str] = []
    for value in values:
        for item in filter(None, (v.strip() for v in value.split(","))):
            parts = urlsplit(item)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise NodeError(f"a crawl node is a Scrapyd URL (http://HOST:6800), "
                                f"not {item!r}")
            if item.rstrip("/") not in urls:
                urls.append(item.rstrip("/"))
    return tuple(urls)


class ScrapydNode:
    """One Scrapyd server, through its JSON API."""

    def __init__(self, url: str, cap: int, *, timeout: float = 10.0) -> None:
        # http://USER:PASSWORD@HOST:6800: Scrapyd's own username and password, sent as HTTP
        # Basic auth and never shown (self.url, in every message, is without them)
        parts = urlsplit(url.rstrip("/"))
        self.headers: dict[str, str] = {}
        if parts.username is not None:
            secret = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            self.headers["Authorization"] = "Basic " + base64.b64encode(
                secret.encode()).decode("ascii")
            parts = parts._replace(netloc=parts.netloc.rpartition("@")[2])
        self.url = urlunsplit(parts)
        self.cap = cap
        self.timeout = timeout
        self.down_until = 0.0  # monotonic: not tried before then
        self.last_error: str | None = None
        self._jobs: tuple[float, dict[str, dict[str, Any]]] | None = None
        self.scheduled_at = 0.0  # monotonic: the last schedule.json this node took
        self.quiet_until = 0.0  # monotonic: its listing is not asked for before then

    def __repr__(self) -> str:
        return f"ScrapydNode({self.url!r})"

    def call(self, endpoint: str, data: list[tuple[str, str]] | None = None,
             query: dict[str, str] | None = None) -> dict[str, Any]:
        """One API call (POST when ``data`` is given); its answer, whose status is ok."""
        url = f"{self.url}/{endpoint}" + (f"?{urlencode(query)}" if query else "")
        body = None if data is None else urlencode(data).encode()
        try:
            with urlopen(Request(url, data=body, headers=self.headers),
                         timeout=self.timeout) as answer:
                found = json.load(answer)
        except HTTPError as exc:
            raise NodeError(f"{self.url}: {endpoint} answered HTTP {exc.code}",
                            answered=True) from None
        except (URLError, OSError, HTTPException) as exc:
            # HTTPException: not HTTP at all, or an answer cut short (a node killed mid-answer)
            why = getattr(exc, "reason", None) or exc
            raise NodeError(f"{self.url}: {type(exc).__name__}: {why}"
                            if isinstance(exc, HTTPException) else f"{self.url}: {why}") from None
        except ValueError:
            raise NodeError(f"{self.url}: {endpoint} did not answer JSON; is it Scrapyd?",
                            answered=True) from None
        if not isinstance(found, dict) or found.get("status") != "ok":
            message = found.get("message") if isinstance(found, dict) else found
            raise NodeError(f"{self.url}: {endpoint}: {message}", answered=True)
        return found

    def status(self) -> dict[str, Any]:
        return self.call("daemonstatus.json")

    def schedule(self, job: str, settings: dict[str, str]) -> str:
        data = [("project", PROJECT), ("spider", SPIDER), ("jobid", job)]
        data += [("setting", f"{name}={value}") for name, value in settings.items()]
        self._jobs = None  # a listing from before this job would miss it
        self.scheduled_at = time.monotonic()
        return str(self.call("schedule.json", data)["jobid"])

    @property
    def listed_at(self) -> float:
        """When the listing ``jobs`` answers from was asked for (monotonic)."""
        return self._jobs[0] if self._jobs is not None else 0.0

    def jobs(self, max_age: float = JOBS_TTL) -> dict[str, dict[str, Any]]:
        """The node's jobs of this project by id, each with its ``state``."""
        now = time.monotonic()
        if self._jobs is not None and now - self._jobs[0] < max_age:
            return self._jobs[1]
        found = self.call("listjobs.json", query={"project": PROJECT})
        jobs = {job["id"]: {**job, "state": state}
                for state in ("pending", "running", "finished") for job in found.get(state, ())}
        self._jobs = (now, jobs)
        return jobs

    def cancel(self, job: str, signal: str = "TERM") -> str | None:
        self._jobs = None
        answer = self.call("cancel.json", [("project", PROJECT), ("job", job),
                                           ("signal", signal)])
        return answer.get("prevstate")

    def log(self, log_url: str) -> bytes:
        """The tail of a job's log (``log_url`` as listjobs.json gives it)."""
        # read through (Scrapyd's file server answers a Range request with an error)
        tail = b""
        try:
            with urlopen(Request(f"{self.url}/{log_url.lstrip('/')}", headers=self.headers),
                         timeout=self.timeout) as answer:
                while chunk := answer.read(1 << 20):
                    tail = (tail + chunk)[-LOG_TAIL_BYTES:]
            return tail
        except (URLError, OSError, HTTPException) as exc:
            raise NodeError(f"{self.url}: cannot read {log_url}: {exc!r}") from None


@dataclass
class NodeCrawl:
    """One crawl job on a node; answers the daemon as ``RunningCrawl`` does."""

    site_id: int
    site: str
    due: datetime
    started: datetime
    node: ScrapydNode
    job: str
    log_file: Path
    recovery: bool = False
    stop_sent: float | None = None
    killed: bool = False
    lost: bool = False  # the node went away, or forgot the job: dispatch the site again
    exit_code: int | None = field(default=None)
    node_pid: int | None = None  # the crawl's pid on its node, once seen running
    unreachable_since: float | None = None
    lost_after: float = LOST_AFTER
    scheduled_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.node_pid or 0

    @property
    def process(self) -> NodeCrawl:
        # the daemon waits on ``crawl.process`` after a kill
        return self

    def poll(self) -> int | None:
        """None while the job is pending or running; then 0 (Scrapyd keeps no exit code:
        the run's outcome in the database says how it went), or -9 for a lost job."""
        if self.exit_code is not None:
            return self.exit_code
        now = time.monotonic()
        try:
            if now < self.node.quiet_until:  # not asked again so soon (see the module docs)
                raise NodeError(self.node.last_error or f"{self.node.url}: not answering")
            job = self.node.jobs().get(self.job)
        except NodeError as exc:
            self.unreachable_since = self.unreachable_since or now
            if now >= self.node.quiet_until:
                self.node.quiet_until = now + POLL_BACKOFF
                self.node.last_error = str(exc)
            if now - self.unreachable_since >= self.lost_after:
                self._lose(f"unreachable for {self.lost_after:.0f} s ({exc})")
            return self.exit_code
        self.unreachable_since = None
        if job is None:
            # only a listing asked for after the job was scheduled can miss it for good
            if self.node.listed_at > self.scheduled_at:
                self._lose("it no longer knows the job (restarted?)")
        elif job["state"] == "running":
            self.node_pid = job.get("pid") or self.node_pid
        elif job["state"] == "finished":
            self.exit_code = 0
            self._copy_log(job.get("log_url"))
        return self.exit_code

    def _lose(self, why: str) -> None:
        logger.warning("%s: crawl node %s lost its crawl (job %s): %s", self.site,
                       self.node.url, self.job, why)
        self.lost = self.killed = True
        self.exit_code = -9
        self.node.down_until = time.monotonic() + DOWN_SECONDS

    def _copy_log(self, log_url: str | None) -> None:
        if not log_url:
            return
        try:
            text = self.node.log(log_url)
        except NodeError as exc:
            text = f"(the job's log could not be read: {exc})\n".encode()
        try:
            with open(self.log_file, "ab") as out:
                out.write(text)
        except OSError as exc:
            logger.error("%s: cannot write %s: %s", self.site, self.log_file, exc)

    def stop(self) -> None:
        """Ask it to stop cleanly (once): cancel.json with SIGTERM."""
        if self.stop_sent is None and self.poll() is None:
            self.stop_sent = time.monotonic()
            self._cancel("TERM")

    def stop_now(self) -> None:
        """A second cancel.json with SIGTERM: a crawl takes it as "stop now" (requests in
        flight dropped, what it fetched still written out)."""
        if self.poll() is None:
            self.stop_sent = self.stop_sent or time.monotonic()
            self._cancel("TERM")

    def kill(self) -> None:
        if self.poll() is None:
            self.killed = True
            self._cancel("KILL")

    def _cancel(self, signal: str) -> None:
        try:
            self.node.cancel(self.job, signal)
        except NodeError as exc:
            logger.error("%s: cannot stop job %s on %s: %s", self.site, self.job,
                         self.node.url, exc)

    def wait(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
        return self.exit_code


class Nodes:
    """The daemon's crawl nodes: where the next crawl goes (see the module docs)."""

    def __init__(self, urls: Iterable[str], cap: int, db_url: str, *,
                 timeout: float = 10.0, lost_after: float = LOST_AFTER) -> None:
        self.nodes = [ScrapydNode(url, cap, timeout=timeout) for url in urls]
        self.db_url = db_url
        self.lost_after = lost_after
        # jobs whose schedule.json failed without a clear answer, on nodes that could not be
        # asked whether they took them: cancelled once the node answers (see the module docs)
        self.unsure: list[tuple[ScrapydNode, str]] = []

    @property
    def capacity(self) -> int:
        return sum(node.cap for node in self.nodes)

    def start(self, *, site_id: int, site: str, due: datetime, max_pages: int | None,
              settings: tuple[str, ...], logs: Path, running: Iterable[object],
              recovery: bool = False) -> NodeCrawl | None:
        """Schedule the site's crawl on the least busy node that takes it; None when none
        does now (each failure is logged, and the node left out for a while)."""
        self._cancel_unsure()
        busy = Counter(getattr(crawl, "node", None) for crawl in running)
        now = time.monotonic()
        free = [node for node in self.nodes if busy[node] < node.cap and node.down_until <= now]
        free.sort(key=lambda node: busy[node])  # stable: the order given breaks ties
        wanted = {"ARSIP_SITE_ID": str(site_id), "ARSIP_TRIGGER": "daemon",
                  "ARSIP_DB_URL": self.db_url}
        if max_pages:
            wanted["ARSIP_MAX_PAGES"] = str(max_pages)
        for setting in settings:
            name, _, value = setting.partition("=")
            wanted[name.strip()] = value
        for node in free:
            job = f"site{site_id}-{uuid.uuid4().hex[:12]}"
            started = datetime.now(UTC)
            try:
                try:
                    node.schedule(job, wanted)
                except NodeError as exc:
                    if not self._took_it(node, job, exc):
                        raise
            except NodeError as exc:
                node.down_until = time.monotonic() + DOWN_SECONDS
                node.last_error = str(exc)
                logger.warning("%s: crawl node %s did not take the crawl: %s; left out for "
                               "%.0f s", site, node.url, exc, DOWN_SECONDS)
                continue
            node.last_error = None
            return NodeCrawl(site_id=site_id, site=site, due=due, started=started, node=node,
                             job=job, log_file=log_path(logs, site, started),
                             recovery=recovery, lost_after=self.lost_after)
        return None

    def _took_it(self, node: ScrapydNode, job: str, exc: NodeError) -> bool:
        """Whether the node has ``job`` after a schedule.json that failed with ``exc``; one
        it cannot say of is left for ``_cancel_unsure``."""
        if exc.answered:
            return False  # a clear refusal: nothing was scheduled
        try:
            if job in node.jobs(max_age=0):
                logger.warning("%s: schedule.json of job %s failed (%s), but the node has the "
                               "job: it is the crawl", node.url, job, exc)
                return True
        except NodeError:
            pass
        # not listed, or not known: the request may still reach it, so the job is cancelled
        # once the node answers (a job it never took is answered with no previous state)
        self.unsure = [*self.unsure[-(MAX_UNSURE - 1):], (node, job)]
        return False

    def _cancel_unsure(self) -> None:
        now = time.monotonic()
        for node, job in list(self.unsure):
            if now < node.quiet_until:
                continue
            try:
                state = node.cancel(job, "TERM")
            except NodeError as exc:
                if not exc.answered:
                    node.quiet_until = now + POLL_BACKOFF
                    continue
                state = None  # it answered: it does not have the job
            self.unsure.remove((node, job))
            if state is not None:  # it had taken the job after all
                logger.warning("%s: cancelled job %s, scheduled there although its "
                               "schedule.json failed (the crawl went elsewhere)", node.url, job)


def node_report(urls: Iterable[str], *, timeout: float = 5.0) -> list[dict[str, Any]]:
    """Each node's health and its jobs, for ``arsip nodes``."""
    report = []
    for url in urls:
        node = ScrapydNode(url, 0, timeout=timeout)
        entry: dict[str, Any] = {"url": node.url}
        try:
            status = node.status()
            jobs = node.jobs(max_age=0)
        except NodeError as exc:
            entry.update(health="down", error=str(exc).removeprefix(f"{node.url}: "))
        else:
            entry.update(health="ok", node_name=status.get("node_name"),
                         running=[_job(j) for j in jobs.values() if j["state"] == "running"],
                         pending=[_job(j) for j in jobs.values() if j["state"] == "pending"],
                         finished=sum(1 for j in jobs.values() if j["state"] == "finished"))
        report.append(entry)
    return report


def _job(job: dict[str, Any]) -> dict[str, Any]:
    return {key: job[key] for key in ("id", "pid", "start_time") if job.get(key) is not None}
