"""Human-readable reports for the terminal: the end-of-crawl summary and ``arsip status``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from crawler.extensions.progress import error_count
from crawler.run import CrawlResult

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
        recent = Table(title="Last crawl runs", title_justify="left")
        columns = [c for c in ("id", "site", "started_at", "finished_at", "trigger", "outcome",
                               "pages", "articles") if c in runs[0]]
        for column in columns:
            recent.add_column(column.replace("_", " "))
        for run in runs:
            recent.add_row(*(str(run.get(c, "")) for c in columns))
        console.print(recent)
