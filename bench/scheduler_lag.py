"""Scheduler firing lag with 10,000 pending deadlines on PostgreSQL.

Seeds 10,000 food-poisoning incidents, each with one initial-report deadline with no
warnings (warn_before=[]: exactly one fire point per deadline, the due point), due at
uniformly random moments over 60 s starting 10 s from now (wall clock). Then runs the
real scheduler process, `flask --app wsgi scheduler`, until every deadline has fired
and been dispatched (or a timeout), and reports:

* recorded lag  = deadline_events.fired_at - deadline_events.fire_at (the target, p99 <= 1 s);
  note that fired_at is the `now` read at the *start* of the tick;
* delivered lag = time the notifier logged the notice - fire_at (what a person waits for:
  it includes the rest of the tick, the commit and dispatch).

Every overdue firing also starts its escalation (whose first step, the board, the walker fires at
once), announces on the boards and appends to the audit chain, as in production. Run for each
SCHEDULER_INTERVAL (1, 0.5 the default, 0.25) with one and with two scheduler processes.

    python -m bench.scheduler_lag [--count 10000] [--spread 60] [--lead 10] [--intervals 1,0.5,0.25]
                                  [--schedulers 1,2]
"""
from __future__ import annotations

import argparse
import random
import time
from datetime import timedelta

from sqlalchemy import text

from bench.common import (
    Children,
    Clock,
    app_engine,
    app_env,
    analyze,
    banner,
    insert_clocks,
    READY,
    read_scheduler_logs,
    reset_database,
    scratch_database,
    seed_base,
    stats,
    tick_durations,
    tool,
    utcnow,
    wait_for_line,
    wait_until,
)

TARGET_P99 = 1.0  # recorded lag (issue 17)
TARGET_DELIVERED_P99 = 2.0  # every notice out within 2 s (issue 17)


def run_once(url: str, children: Children, *, interval: float, count: int, spread: float, lead: float,
             rng: random.Random, schedulers: int = 1) -> dict:
    """Seed, run `schedulers` scheduler processes at this interval until drained, measure."""
    engine = app_engine(url)
    try:
        reset_database(engine)
        seed = seed_base(engine)
        t_seed = time.monotonic()
        # Incidents and deadlines go in together; the due points are fixed before the insert
        # and the insert is bounded to well under the lead time.
        base = utcnow() + timedelta(seconds=lead)
        clocks = [Clock(starts_at=due - timedelta(hours=1), due_at=due) for due in sorted(
            base + timedelta(seconds=rng.uniform(0, spread)) for _ in range(count))]
        now = utcnow()
        with engine.begin() as conn:
            for i in range(0, count, 2000):
                insert_clocks(conn, seed, clocks[i:i + 2000], now=now)
        analyze(engine)
        seeded_in = time.monotonic() - t_seed

        logs_of, procs = [], []
        for k in range(schedulers):
            log = children.workdir / f"scheduler-{interval}-{schedulers}-{k}.log"
            procs.append(children.start(tool("flask") + ["--app", "wsgi", "scheduler"],
                                        env=app_env(url, children.workdir, SCHEDULER_INTERVAL=str(interval),
                                                    PGAPPNAME="yingji-bench-sched",
                                                    # each run starts a new trail on the emptied database
                                                    AUDIT_HEAD_FILE=str(children.workdir / f"heads-{interval}-{schedulers}.log")),
                                        log=log))
            logs_of.append(log)
        for log, proc in zip(logs_of, procs):
            if wait_for_line(log, READY, timeout=30, proc=proc) is None:
                raise RuntimeError(f"scheduler did not start; see {log}:\n{log.read_text()[-3000:]}")
        ready_margin = (base - utcnow()).total_seconds()
        print(f"[interval {interval}, {schedulers} scheduler(s)] seeded {count} deadlines in {seeded_in:.1f} s; "
              f"schedulers ready {'%.1f s before' % ready_margin if ready_margin > 0 else 'AFTER'} the first due point",
              flush=True)

        def drained() -> bool:
            with engine.connect() as conn:
                pending = conn.execute(text("SELECT count(*) FROM deadlines WHERE status = 'pending'")).scalar_one()
                undispatched = conn.execute(
                    text("SELECT count(*) FROM deadline_events WHERE dispatched_at IS NULL")).scalar_one()
            return pending == 0 and undispatched == 0

        deadline_s = lead + spread + 90
        t0 = time.monotonic()
        finished = wait_until(drained, timeout=deadline_s, every=0.5)
        wall = time.monotonic() - t0
        for proc in procs:
            children.stop(proc)

        with engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT e.fire_at, e.fired_at, i.number, e.kind FROM deadline_events e "
                "JOIN incidents i ON i.id = e.incident_id")).all()
            pending = conn.execute(text("SELECT count(*) FROM deadlines WHERE status = 'pending'")).scalar_one()
            per_deadline = conn.execute(text(
                "SELECT count(*) FILTER (WHERE n = 1), count(*) FILTER (WHERE n > 1) FROM "
                "(SELECT d.id, count(e.id) AS n FROM deadlines d LEFT JOIN deadline_events e "
                "ON e.deadline_id = d.id GROUP BY d.id) x")).one()
            # What else the overdue path wrote: escalations (and their first step), board events, audit entries.
            side = conn.execute(text(
                "SELECT (SELECT count(*) FROM escalations), (SELECT count(*) FROM deliveries), "
                "(SELECT count(*) FROM board_events), "
                "(SELECT count(*) FROM audit_entries WHERE action = 'deadline.overdue')")).one()
        fire_at = {number: fa for fa, _, number, _ in rows}
        recorded = stats((fired - fa).total_seconds() for fa, fired, _, _ in rows)
        logs = read_scheduler_logs(logs_of)
        delivered = stats((at - fire_at[number]).total_seconds() for at, _, number in logs.notices
                          if number in fire_at)
        sizes, spans = tick_durations([(fired, kind, number) for _, fired, number, kind in rows], logs.notices)
        return {
            "interval": interval, "schedulers": schedulers, "side": tuple(side), "count": count, "finished": finished, "wall": wall, "pending_left": pending,
            "fired_once": per_deadline[0], "fired_more": per_deadline[1], "events": len(rows),
            "recorded": recorded, "delivered": delivered, "notices": len(logs.notices),
            "tick_sizes": stats(sizes), "tick_spans": stats(spans), "skipped": logs.skipped,
            "missed": logs.missed, "failed": logs.failed, "early": sum(1 for fa, fired, _, _ in rows if fired < fa),
        }
    finally:
        engine.dispose()


def report(results: list[dict], *, count: int, spread: float, lead: float) -> None:
    banner(f"SCHEDULER LAG — {count} deadlines (warn_before=[], one fire point each), due uniformly over "
           f"{spread:.0f} s from +{lead:.0f} s, `flask --app wsgi scheduler` processes, PostgreSQL")
    for r in results:
        met = r["recorded"].p99 <= TARGET_P99 and r["delivered"].p99 <= TARGET_DELIVERED_P99
        print(f"\nSCHEDULER_INTERVAL={r['interval']}, {r['schedulers']} scheduler process(es): "
              f"{'drained' if r['finished'] else 'TIMED OUT'} "
              f"({r['pending_left']} still pending); firing rows {r['events']}, deadlines fired once "
              f"{r['fired_once']}, more than once {r['fired_more']}, fired before due {r['early']}")
        print(f"  overdue path wrote: escalations {r['side'][0]}, deliveries {r['side'][1]}, board events "
              f"{r['side'][2]}, audit entries 'deadline.overdue' {r['side'][3]}")
        print(f"  recorded lag  fired_at - fire_at   (s): {r['recorded'].row()}")
        print(f"  delivered lag notice logged - due  (s): {r['delivered'].row()}")
        print(f"  firings per tick that fired        (n): {r['tick_sizes'].row(digits=0)}")
        print(f"  tick start -> its last notice      (s): {r['tick_spans'].row()}")
        print(f"  ticks skipped (still running) {r['skipped']}, missed {r['missed']}, failed {r['failed']}")
        print(f"  TARGET recorded p99 <= {TARGET_P99:.1f} s and delivered p99 <= {TARGET_DELIVERED_P99:.0f} s: "
              f"{'MET' if met else 'MISSED'} (recorded p99 = {r['recorded'].p99:.3f} s, delivered p99 = "
              f"{r['delivered'].p99:.3f} s)")
    print(flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.scheduler_lag", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds over which the due points spread")
    parser.add_argument("--lead", type=float, default=10.0, help="seconds from now to the first due point")
    parser.add_argument("--intervals", default="1,0.5,0.25", help="SCHEDULER_INTERVAL values, one run each")
    parser.add_argument("--schedulers", default="1,2", help="numbers of scheduler processes, one run each")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    results = []
    children = Children()
    try:
        with scratch_database() as url:
            for interval in [float(x) for x in args.intervals.split(",")]:
                for schedulers in [int(x) for x in args.schedulers.split(",")]:
                    results.append(run_once(url, children, interval=interval, count=args.count,
                                            spread=args.spread, lead=args.lead, rng=rng, schedulers=schedulers))
    finally:
        children.close()
    report(results, count=args.count, spread=args.spread, lead=args.lead)
    return results


if __name__ == "__main__":
    main()
