"""`python -m bench [name ...] [--quick] [--database sqlite|postgres]`: runs the benchmarks
(all, or those named) on one in-process Herald, prints a markdown table and writes
bench/results/latest.json."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import build_stack
from bench.report import markdown_table

BENCHMARKS = (
    "publish_throughput",
    "burst",
    "sleeping_scale",
    "schedule_lateness",
    "list_scaling",
    "webhook_delivery",
    "request_overhead",
    "teams_cost",
    "analytics_overview",
    "analytics_export",
)
RESULTS = Path(__file__).parent / "results" / "latest.json"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="name", help=f"any of {', '.join(BENCHMARKS)} (default: all)"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--posts",
        type=int,
        help="publish_throughput and webhook_delivery's publish runs: posts (default 200)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        help="publish_throughput and webhook_delivery's publish runs: submissions in flight "
        "(default 20)",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="publish_throughput and webhook_delivery: Herald's API and workers, and the "
        "baseline's worker, in the benchmark's process (default: each in a process of its own, "
        "as deployed)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        help="publish_throughput: baseline/Herald pairs, median reported (default 5; quick 1); "
        "webhook_delivery: with/without-endpoints pairs (default 5; quick 2)",
    )
    parser.add_argument("--burst", type=int, help="burst: posts due at one second (1000)")
    parser.add_argument(
        "--sleeping", type=int, help="sleeping_scale: posts sleeping 1-2 h ahead (20000)"
    )
    parser.add_argument("--scheduled", type=int, help="schedule_lateness: posts (default 60)")
    parser.add_argument(
        "--spread", type=float, help="schedule_lateness: seconds the times spread over (60)"
    )
    parser.add_argument("--small", type=int, help="list_scaling: posts of the small workspace")
    parser.add_argument("--large", type=int, help="list_scaling: posts of the large workspace")
    parser.add_argument(
        "--requests", type=int, help="list_scaling: requests per measurement (default 200)"
    )
    parser.add_argument(
        "--webhook-posts",
        type=int,
        help="webhook_delivery: drafts whose post.created is delivered (default 1000; quick 100)",
    )
    parser.add_argument(
        "--endpoints", type=int, help="webhook_delivery: endpoints subscribed (default 3)"
    )
    parser.add_argument(
        "--overhead-requests",
        type=int,
        help="request_overhead: requests per side and kind (default 400; quick 100)",
    )
    parser.add_argument(
        "--redis",
        help="request_overhead: a Redis URL for its Redis side (default: 127.0.0.1:6379 if "
        "it answers)",
    )
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    args.names = list(dict.fromkeys(args.names)) or list(BENCHMARKS)
    return args


def _load_previous() -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(RESULTS.read_text())
    except (OSError, ValueError):
        return {"benchmarks": {}}
    data.setdefault("benchmarks", {})
    return data


def _save(results: list[dict[str, Any]]) -> None:
    """Each benchmark's latest result; one run alone replaces only its own entry."""
    data = _load_previous()
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    for result in results:
        data["benchmarks"][result["name"]] = {**result, "finished_at": stamp}
    data["updated_at"] = stamp
    data["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(data, indent=2, default=str) + "\n")


async def run_all(args: argparse.Namespace) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    async with build_stack(args.database) as stack:
        args.stack = stack
        for name in args.names:
            module = importlib.import_module(f"bench.{name}")
            started = time.perf_counter()
            result = await module.run(args)
            result["quick"] = args.quick
            result["wall_seconds"] = round(time.perf_counter() - started, 1)
            results.append(result)
            print(flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    results = asyncio.run(run_all(args))
    _save(results)
    mode = "quick" if args.quick else "full"
    print(f"Results ({mode} run, {args.database}, {platform.python_version()}):\n")
    print(markdown_table(results))
    print(f"\nwritten to {RESULTS}")
    # Goals missed are reported, not failed: timings on a shared machine are not a verdict.
    return 0


if __name__ == "__main__":
    sys.exit(main())
