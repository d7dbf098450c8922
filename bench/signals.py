"""Every shutdown signal in every state of a crawl, many times over: does it always end clean?

    python bench/signals.py                     # 20 rounds of SIGINT, SIGTERM, SIGHUP x 9 states
    python bench/signals.py --rounds 3 --states crawling stopping --signals SIGTERM
    python bench/signals.py --to pid            # to the crawl process alone, not its group

Each run starts a real ``arsip crawl`` against the local fixture site, waits until the crawl
reports the state (``tests/signal_cases.py``: a line in its state file, a request held at the
server, a summary nobody reads yet), sends the signal to the whole process group (as a terminal,
systemd and a daemon do) and checks what is left: the exit code, the WARC files (closed, and
``warcio check`` clean), the index (every record has its row), the run's outcome, and any
process of the crawl still alive. States: ``launching`` (arsip holds the signals and imports its
command line, before the crawl's runtime exists: ``crawler.launch``), ``starting`` (at the
crawl's first report, while it sets up), ``spawning`` (as its first helper process is born),
``opening`` (helpers up, the recorder waiting on a locked database) -- four moments of STARTING
--, ``opened``
(waiting for robots.txt), ``crawling``, ``stopping`` (the same signal a second time),
``closed`` and ``failed`` (an unreachable site) while the summary is being printed.

Prints one table row per signal and state: runs, exit codes seen, WARC valid, runs' outcomes,
processes left over, clean runs, median seconds. Exits 1 if any run was not clean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.signal_cases import SIGNALS, STATES, CaseResult, run_case  # noqa: E402


def _counts(counter: Counter[str]) -> str:
    return ", ".join(f"{key} x{n}" if n > 1 else key for key, n in counter.most_common())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--states", nargs="+", choices=STATES, default=list(STATES))
    parser.add_argument("--signals", nargs="+", choices=list(SIGNALS), default=list(SIGNALS))
    parser.add_argument("--to", choices=("group", "pid"), default="group",
                        help="send to the crawl's whole process group (default) or its pid")
    parser.add_argument("--verbose", action="store_true", help="print every run as it ends")
    args = parser.parse_args(argv)

    results: dict[tuple[str, str], list[CaseResult]] = defaultdict(list)
    failures: list[CaseResult] = []
    began = time.monotonic()
    total = args.rounds * len(args.states) * len(args.signals)
    done = 0
    # rounds outermost: a drift in the machine's speed spreads over every cell alike
    for _ in range(args.rounds):
        for state in args.states:
            for signame in args.signals:
                with tempfile.TemporaryDirectory(prefix="arsip-signals-") as tmp:
                    try:
                        result = run_case(signame, state, Path(tmp), to_group=args.to == "group")
                    except AssertionError as exc:  # the crawl never reached the state
                        result = CaseResult(signame, state, args.to == "group",
                                            problems=[f"harness: {exc}"])
                results[(signame, state)].append(result)
                done += 1
                if not result.clean:
                    failures.append(result)
                if args.verbose or not result.clean:
                    print(f"[{done}/{total}] {signame} {state}: exit {result.exit_code}, "
                          f"{'clean' if result.clean else result.problems}", file=sys.stderr,
                          flush=True)
                elif done % 10 == 0:
                    print(f"[{done}/{total}] {time.monotonic() - began:.0f} s", file=sys.stderr,
                          flush=True)

    print(f"\n{args.rounds} rounds, signal sent to the crawl's "
          f"{'process group' if args.to == 'group' else 'process alone'}, "
          f"{time.monotonic() - began:.0f} s in all\n")
    print("| signal | state | runs | exit codes | WARC valid | run outcomes | processes left "
          "| clean | median s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for signame in args.signals:
        for state in args.states:
            cell = results[(signame, state)]
            exits = Counter(str(r.exit_code) for r in cell)
            outcomes = Counter("/".join(r.outcomes) or "(no run)" for r in cell)
            valid = sum(1 for r in cell if r.warc_valid and r.indexed)
            left = sum(len(r.leftovers) for r in cell)
            clean = sum(1 for r in cell if r.clean)
            seconds = statistics.median(r.seconds for r in cell) if cell else 0.0
            print(f"| {signame} | {state} | {len(cell)} | {_counts(exits)} | {valid}/{len(cell)} "
                  f"| {_counts(outcomes)} | {left} | {clean}/{len(cell)} | {seconds:.1f} |")
    if failures:
        print(f"\n{len(failures)} run(s) not clean:")
        for result in failures:
            print(f"- {result.signal} in {result.state}: {result.problems}")
            tail = result.stderr.strip().splitlines()[-5:]
            for line in tail:
                print(f"    {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
