"""Run every benchmark in turn: `python -m bench [scheduler_lag] [crash_scheduler] [register_api] [push_latency] [briefing] [complaints] [escalation] [idle_sockets] [pii] [province_chain] [growth] [audit_writers]`.

Each one creates, migrates and drops its own scratch PostgreSQL database (BENCH_PG_URL or
TEST_PG_URL, default postgresql+psycopg://postgres@127.0.0.1:5432/test, names the server) and
kills every process it started. Options of a single benchmark: `python -m bench.<name> --help`.
"""
from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.common import banner, machine

BENCHMARKS = ("scheduler_lag", "crash_scheduler", "register_api", "push_latency", "briefing", "complaints",
              "escalation", "idle_sockets", "pii", "province_chain", "growth", "audit_writers")


def main(argv: list[str]) -> int:
    names = argv or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    print(f"machine: {machine()}", flush=True)
    failed = []
    for name in names:
        banner(f"running bench.{name}")
        t0 = time.monotonic()
        try:
            importlib.import_module(f"bench.{name}").main([])
        except Exception:  # noqa: BLE001 - one broken benchmark does not stop the others
            traceback.print_exc()
            failed.append(name)
        print(f"bench.{name} took {time.monotonic() - t0:.0f} s", flush=True)
    if failed:
        print(f"benchmarks that did not finish: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
