"""Human-readable reports for the terminal: the end-of-crawl summary and ``arsip status``."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from crawler.extensions.progress import error_count
from crawler.run import CrawlResult
from storage.durations import format_duration

# (label, stats key) rows of the summary, in reading order; zero rows are left out except the
# first three, which a user always wants to see.
_ROWS = (
    ("Pages fetched", "response_received_count"),
    ("Articles stored (new or changed)", "arsip/articles_stored"),
    ("Articles unchanged", "arsip/articles_unchanged"),
    ("Not modified (304)", "arsip/not_modified"),
    ("Extraction errors", "arsip/extraction_errors"),
    ("Fetch errors (timeouts, refused, DNS)", "arsip/fetch_errors"),
    ("HTTP errors (4xx/5xx)", "arsip/http_errors"),
    ("Redirects followed", "arsip/redirects"),
    ("Blocked by robots.txt", "robotstxt/forbidden"),
    ("Non-HTML responses", "arsip/non_html"),
    ("Non-UTF-8 pages", "arsip/non_utf8"),
    ("Empty pages", "arsip/empty_body"),
    ("Truncated responses (archived, not extracted)", "arsip/truncated"),
    ("Malformed sitemaps", "arsip/malformed_sitemap"),
    ("Malformed feeds", "arsip/malformed_feed"),
    ("Skipped by --since", "arsip/skipped_since"),
    ("Site boilerplate lines learned", "arsip/boilerplate_lines_learned"),
    ("Site boilerplate lines stripped", "arsip/boilerplate_lines_stripped"),
    ("Page requisites fetched (CSS, fonts, scripts, images)", "arsip/requisites"),
    ("WARC records (response/revisit)", "arsip/warc_records"),
)


def summary_rows(result: CrawlResult) -> list[tuple[str, str]]:
    stats = dict(result.stats)
    by_status = {
        int(k.rsplit("/", 1)[1]): int(v) for k, v in stats.items()
        if k.startswith("downloader/response_status_count/") and k.rsplit("/", 1)[1].isdigit()
    }
    stats["arsip/redirects"] = sum(n for code, n in by_status.items() if 300 <= code < 400
                                   and code != 304)
    stats["arsip/http_errors"] = sum(n for code, n in by_status.items() if code >= 400)
    rows = []
    for index, (label, key) in enumerate(_ROWS):
        value = int(stats.get(key, 0) or 0)
        if value or index < 3:
            rows.append((label, str(value)))
    for code in sorted(c for c in by_status if c >= 400):
        rows.append((f"  HTTP {code}", str(by_status[code])))
    stored = result.count("arsip/articles_stored") + result.count("arsip/articles_unchanged")
    rows.append(("Errors in all", str(error_count(stats))))
    rows.append(("Time", f"{result.seconds:.1f} s"))
    rows.append(("Rate", f"{result.count('response_received_count') / result.seconds:.1f} "
                         f"pages/s, {stored / result.seconds:.1f} articles/s"))
    rows.append(("Finished because", result.reason))
    return rows


def print_summary(result: CrawlResult, data_dir: Path) -> None:
    table = Table(title="arsip crawl summary", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for label, value in summary_rows(result):
        table.add_row(label, value)
    console = Console()
    console.print(table)
    console.print(f"Archive: {data_dir}  (log: {result.log_file})")


def _flatten(prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}{key}." if isinstance(inner, dict) else f"{prefix}{key}", inner, out)
    elif isinstance(value, list):
        out.append((prefix, f"{len(value)} item(s)"))
    else:
        out.append((prefix, str(value)))


def print_status(report: dict[str, Any]) -> None:
    console = Console()
    runs = report.get("last_runs") or report.get("runs") or []
    flat: list[tuple[str, str]] = []
    _flatten("", {k: v for k, v in report.items() if k not in ("last_runs", "runs")}, flat)
    table = Table(title="arsip status", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    for key, value in flat:
        table.add_row(key.replace("_", " "), value)
    console.print(table)
    if runs:
        # 80 columns: no vertical rules, minutes not microseconds, how long rather than when
        # it ended, the zone once in the title
        recent = Table(title=f"Last crawl runs (times: {local_zone()})", title_justify="left",
                       box=box.SIMPLE_HEAD, pad_edge=False)
        for column, justify in (("id", "right"), ("site", "left"), ("started", "left"),
                                ("took", "right"), ("by", "left"), ("outcome", "left"),
                                ("pages", "right"), ("articles", "right")):
            recent.add_column(column, justify=justify,  # type: ignore[arg-type]
                              overflow="fold" if column == "site" else "ellipsis",
                              no_wrap=column != "site")
        for run in runs:
            recent.add_row(str(run["id"]), run["site"], _minutes(run["started_at"]),
                           _took(run["started_at"], run["finished_at"]), run["trigger"],
                           run["outcome"], str(run["pages"]), str(run["articles"]))
        console.print(recent)


def local_zone() -> str:
    """This machine's time zone as people read it: its name and offset ("WIB, UTC+07:00")."""
    now = datetime.now().astimezone()
    offset = now.strftime("%z")
    return f"{now.tzname()}, UTC{offset[:3]}:{offset[3:]}"


def _took(started: str | None, finished: str | None) -> str:
    """How long a run took, as schedules are written ("45s", "12m", "1h30m"): past a minute,
    to the minute."""
    if not started or not finished:
        return "-"
    seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
    return format_duration(seconds if seconds < 60 else round(seconds / 60) * 60) or "-"


def minutes(value: str | None, empty: str = "-") -> str:
    """An ISO time to the minute in local time, as ``status`` and ``sites`` print them all (the
    zone named once per output: ``local_zone``)."""
    return _minutes(value, empty)


def _minutes(value: str | None, empty: str = "-", *, zone: tzinfo | None = None) -> str:
    """An ISO time to the minute ("2026-12-01 03:04"): in this machine's local time, whose zone
    is named once per output (``local_zone``), or in ``zone``, named after it ("... UTC")."""
    if not value:
        return empty
    when = datetime.fromisoformat(value).astimezone(zone)
    text = when.strftime("%Y-%m-%d %H:%M")
    return f"{text} {when.tzname()}" if zone is not None else text


def _run_line(run: dict[str, Any]) -> str:
    errors = run["errors"]
    return (f"run {run['id']} ({run['trigger']}) {run['outcome']}, "
            f"{_minutes(run['started_at'])}: {run['pages']} pages, {run['articles']} articles "
            f"read, {run['versions']} new versions, {run['not_modified']} not modified; errors: "
            f"{errors['fetch']} fetch, {errors['http']} HTTP, {errors['extraction']} extraction")


def _schedule(site: dict[str, Any]) -> str:
    if not site["schedule_seconds"]:
        return "not scheduled (crawled only by arsip crawl)"
    if not site["enabled"]:
        return f"every {site['every']}, paused (arsip sites resume)"
    if site.get("overdue_since"):
        # past by more than its jitter and a minute: a clock nobody reads would mislead
        return (f"every {site['every']}, next run overdue since "
                f"{_minutes(site['overdue_since'])} (is `arsip daemon` running?)")
    return f"every {site['every']}, next run " + _minutes(site["next_run_at"],
                                                          "when the daemon starts")


def health_lines(health: dict[str, Any] | None) -> list[str]:
    """Extraction health in words: the shares of the last run that read articles."""
    if not health:
        return ["extraction health: no articles read yet"]
    usual = health["usual"]
    parts = []
    for name, share in health["shares"].items():
        label = name.replace("_", " ")
        parts.append(f"{label} {share:.0%}" + (f" (usually {usual[name]:.0%})" if usual else ""))
    runs = health.get("runs") or [health["run"]]
    named = f"run {runs[0]}" if len(runs) == 1 else f"runs {runs[-1]}-{runs[0]}"
    return [f"extraction health ({named}, {health['read']} articles): "
            + ", ".join(parts), *(f"WARNING: {w}" for w in health["warnings"])]


def print_site(site: dict[str, Any]) -> None:
    """``arsip sites show``."""
    console = Console(soft_wrap=True)
    pages = site["pages"]
    profile = site["profile"]
    if profile and ("=" in profile or "\n" in profile):
        profile = f"stored TOML ({len(profile.splitlines())} lines)"
    console.print(f"[bold]{site['name']}[/bold]  {site['base_url']}  (times: {local_zone()})",
                  highlight=False)
    for label, value in (
        ("schedule", _schedule(site)),
        ("profile", profile or "general rules"),
        ("max pages", site["max_pages"] or "no cap"),
        ("pages", f"{pages['articles']} articles ({pages['due']} due now), "
                  f"{pages['hubs']} hubs"),
    ):
        console.print(f"  {label}: {value}", highlight=False)
    for line in health_lines(site["health"]):
        console.print(f"  {line}", highlight=False)
    for run in site["runs"]:
        console.print(f"  {_run_line(run)}", highlight=False)


def print_boilerplate(learned: dict[str, Any]) -> None:
    """The site's boilerplate lines, as ``arsip sites show`` lists them."""
    console = Console(soft_wrap=True)
    lines = learned["learned"]
    console.print(f"  boilerplate: {len(lines)} lines learned from {learned['articles']} "
                  "articles (stripped from their text)", highlight=False)
    for line in lines:
        text = line["text"] if len(line["text"]) <= 90 else line["text"][:89] + "…"
        console.print(f"    {line['share']:>4.0%} of articles  {text}", highlight=False,
                      markup=False)


def print_sites_health(sites: list[dict[str, Any]]) -> None:
    """The per-site part of ``arsip status``: last run, next run, pages due, health."""
    console = Console()
    wrap = console.is_terminal  # to its width, under the site; a pipe gets a line per fact
    for site in sites:
        console.print(f"[bold]{site['name']}[/bold]: {_schedule(site)}; "
                      f"{site['pages']['due']} pages due", highlight=False, soft_wrap=not wrap)
        lines = [f"last {_run_line(site['runs'][0])}"] if site["runs"] else []
        for line in [*lines, *health_lines(site["health"])]:
            console.print(Padding(Text(line), (0, 0, 0, 2)) if wrap else f"  {line}",
                          highlight=False, soft_wrap=not wrap)


def _diff_lines(pieces: list[Any]) -> list[list[tuple[str, str]]]:
    """Word-diff pieces cut into lines (paragraphs) of (op, text) segments."""
    lines: list[list[tuple[str, str]]] = [[]]
    for piece in pieces:
        first, *rest = piece.text.split("\n")
        if first:
            lines[-1].append((piece.op, first))
        for part in rest:
            lines.append([(piece.op, part)] if part else [])
    return lines


def diff_text(pieces: list[Any], *, color: bool, context: int = 1) -> Text:
    """The changed paragraphs with ``context`` paragraphs around them; deletions struck out in
    red and insertions green on a terminal, ``[-old-]{+new+}`` otherwise."""
    lines = _diff_lines(pieces)
    changed = [i for i, line in enumerate(lines) if any(op != "equal" for op, _ in line)]
    keep = {j for i in changed for j in range(i - context, i + context + 1)}
    out = Text()
    skipped = 0
    for index, line in enumerate(lines):
        if index not in keep:
            skipped += 1
            continue
        if skipped:
            out.append(f"  … {skipped} unchanged paragraph{'s' * (skipped > 1)} …\n", "dim")
            skipped = 0
        for op, part in line:
            if op == "equal":
                out.append(part)
            elif color:
                out.append(part, "red strike" if op == "delete" else "green")
            else:
                out.append(f"[-{part}-]" if op == "delete" else f"{{+{part}+}}")
        out.append("\n")
    if skipped:
        out.append(f"  … {skipped} unchanged paragraph{'s' * (skipped > 1)} …\n", "dim")
    return out


def print_diff(url: str, old: tuple[int, str | None], new: tuple[int, str | None],
               title: list[Any], body: list[Any]) -> None:
    """``arsip history URL --diff``."""
    console = Console(soft_wrap=True)
    color = console.is_terminal
    console.print(f"{url}\nversion {old[0]} ({_minutes(old[1], zone=UTC)}) -> version "
                  f"{new[0]} ({_minutes(new[1], zone=UTC)})", highlight=False)
    if any(p.op != "equal" for p in title):
        console.print(Text("title: ").append_text(diff_text(title, color=color, context=0)),
                      end="")
    if any(p.op != "equal" for p in body):
        console.print(diff_text(body, color=color), end="")
    elif not any(p.op != "equal" for p in title):
        console.print("(the two versions have the same text)")
