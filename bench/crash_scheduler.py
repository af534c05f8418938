"""Crash test: kill -9 the scheduler 20 times over a stream of deadlines; count double and missed firings.

What it does, on a scratch PostgreSQL database:

* A stream of food-poisoning incidents is inserted while the test runs (bulk inserts every
  0.25 s, ~60 deadlines a second, due from 1 s ago to 25 s ahead), plus a burst of 400
  deadlines all due at the same instant every ~12 s so that some ticks are long. Every
  deadline has two warnings, 8 s and 3 s before due (three fire points: warning, warning,
  overdue), started 30 s before due, timed the way incidents.response.service does.
* `flask --app wsgi scheduler` processes (SCHEDULER_INTERVAL=0.25 by default, to have many
  ticks to interrupt) are killed with SIGKILL 20 times. Cycles 6-15 run two scheduler
  processes at once (A and B are killed in turn, one per cycle, and restarted in the next, so
  the two overlap, compete for the same rows and die at different moments). Half of the kills land at a
  random moment 0.05-2.5 s after the process is ready; the other half are aimed: the
  benchmark watches pg_stat_activity and kills the process while its connection is inside
  a transaction (`active` / `idle in transaction`), i.e. mid-claim or mid-commit.
* After the last kill one scheduler is started and left to drain: every deadline must end
  'overdue' and every firing be dispatched (the dispatch lease of a killed process is 60 s,
  so the drain can take that long).

Then it counts, per deadline, the overdue firings (deadline_events kind='overdue'):
fired 0 times and more than once (target 0 and 0); also warnings fired twice for one stage,
'deadline.overdue' audit entries per deadline, the audit chain, firings before their fire
point, and notices delivered (at-least-once: duplicates after a kill are expected, losses are not).

    python -m bench.crash_scheduler [--cycles 20] [--interval 0.25] [--seed N]
"""
from __future__ import annotations

import argparse
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import (
    READY,
    Children,
    Clock,
    app_engine,
    app_env,
    audit_keyring,
    banner,
    insert_clocks,
    read_scheduler_logs,
    run_on_scratch_database,
    seed_base,
    stats,
    tool,
    utcnow,
    wait_for_line,
    wait_until,
)
from incidents.records import audit

WARN = (8, 3)
LEAD = timedelta(seconds=30)  # starts_at = due - 30 s


@dataclass
class Kill:
    cycle: int
    slot: str
    pid: int
    mode: str  # random | aimed
    state: str  # the victim's connection state just before the kill
    alive_s: float


@dataclass
class Stream:
    """The thread that keeps inserting deadlines while schedulers die."""

    engine: object
    seed: object
    rate: float
    burst: int
    burst_every: float
    limit: int
    rng: random.Random
    stop: threading.Event = field(default_factory=threading.Event)
    inserted: int = 0
    last_due: object = None
    errors: list = field(default_factory=list)

    def run(self) -> None:
        next_burst = time.monotonic() + 5
        hard_end = time.monotonic() + 600  # bounded whatever happens
        while not self.stop.is_set() and self.inserted < self.limit and time.monotonic() < hard_end:
            now = utcnow()
            dues = [now + timedelta(seconds=self.rng.uniform(-1, 25)) for _ in range(max(1, int(self.rate / 4)))]
            if time.monotonic() >= next_burst:
                at = now + timedelta(seconds=4)
                dues += [at] * self.burst
                next_burst += self.burst_every
            dues = dues[: self.limit - self.inserted]
            try:
                with self.engine.begin() as conn:
                    insert_clocks(conn, self.seed, [Clock(d - LEAD, d, WARN) for d in dues], now=utcnow())
            except Exception as exc:  # noqa: BLE001 - report, keep the benchmark bounded
                self.errors.append(repr(exc))
                if len(self.errors) > 5:
                    return
                continue
            self.inserted += len(dues)
            self.last_due = max([self.last_due or dues[0], *dues])
            self.stop.wait(0.25)


class Slots:
    """Scheduler processes by slot (A, B), each start with its own log and application_name."""

    def __init__(self, url: str, children: Children, interval: float) -> None:
        self.url, self.children, self.interval = url, children, interval
        self.procs: dict[str, tuple] = {}
        self.logs: list[Path] = []
        self.starts = 0
        self.spans: list[list] = []  # [ready at, killed/stopped at] of every process, wall clock

    def alive(self, slot: str) -> bool:
        entry = self.procs.get(slot)
        return entry is not None and entry[0].poll() is None

    def start(self, slot: str) -> None:
        self.starts += 1
        name = f"yingji-bench-{slot}-{self.starts}"
        log = self.children.workdir / f"{name}.log"
        env = app_env(self.url, self.children.workdir, SCHEDULER_INTERVAL=str(self.interval), PGAPPNAME=name)
        proc = self.children.start(tool("flask") + ["--app", "wsgi", "scheduler"], env=env, log=log)
        self.logs.append(log)
        if wait_for_line(log, READY, timeout=30, proc=proc) is None:
            raise RuntimeError(f"scheduler {name} did not start:\n{log.read_text()[-3000:]}")
        span = [utcnow(), None]
        self.spans.append(span)
        self.procs[slot] = (proc, name, time.monotonic(), span)

    def end(self, slot: str, *, kill: bool) -> tuple:
        """Kill -9 (or stop) the process of a slot and note when it ended."""
        entry = self.procs.pop(slot)
        entry[3][1] = utcnow()
        (self.children.kill9 if kill else self.children.stop)(entry[0])
        return entry


def connection_state(engine, appname: str) -> str:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT state FROM pg_stat_activity WHERE application_name = :a"),
                            {"a": appname}).scalars().all()
    return ",".join(sorted(s or "?" for s in rows)) or "no connection"


IN_XACT = ("active", "idle in transaction")


def kill_one(slots: Slots, engine, slot: str, *, mode: str, cycle: int, rng: random.Random) -> Kill:
    proc, name, started, _ = slots.procs[slot]
    if mode == "random":
        time.sleep(rng.uniform(0.05, 2.5))
        state = connection_state(engine, name)
    else:
        time.sleep(rng.uniform(0.05, 1.0))
        end = time.monotonic() + 4.0  # if no transaction shows up in 4 s, kill anyway
        state = "not seen in a transaction"
        with engine.connect() as conn:
            while time.monotonic() < end:
                rows = conn.execute(text("SELECT state FROM pg_stat_activity WHERE application_name = :a"),
                                    {"a": name}).scalars().all()
                hit = [s for s in rows if s in IN_XACT]
                if hit:
                    state = hit[0]
                    break
                conn.rollback()
                time.sleep(0.002)
    slots.end(slot, kill=True)
    return Kill(cycle, slot, proc.pid, mode, state, time.monotonic() - started)


def run(url: str, children: Children, args) -> dict:
    rng = random.Random(args.seed)
    engine = app_engine(url)
    seed = seed_base(engine)
    stream = Stream(engine=engine, seed=seed, rate=args.rate, burst=args.burst, burst_every=args.burst_every,
                    limit=args.max_deadlines, rng=random.Random(args.seed + 1))
    thread = threading.Thread(target=stream.run, name="stream", daemon=True)
    slots = Slots(url, children, args.interval)
    kills: list[Kill] = []
    t0 = time.monotonic()
    w0 = utcnow()
    thread.start()
    try:
        for cycle in range(args.cycles):
            two = args.two_from <= cycle + 1 <= args.two_to
            wanted = ["A", "B"] if two else ["A"]
            for slot in wanted:
                if not slots.alive(slot):
                    slots.start(slot)
            alive = [s for s in ("A", "B") if slots.alive(s)]
            unwanted = [s for s in alive if s not in wanted]
            # With two running the victims go in pairs, A A B B A A ..., one random and one aimed
            # kill each: each dies while the other is mid-run, and the survivor keeps competing
            # with the restarted one.
            if unwanted:
                victim = unwanted[0]
            elif two and len(alive) == 2:
                victim = "AB"[(cycle // 2) % 2]
            else:
                victim = rng.choice(alive)
            mode = "aimed" if cycle % 2 else "random"
            kills.append(kill_one(slots, engine, victim, mode=mode, cycle=cycle + 1, rng=rng))
            k = kills[-1]
            print(f"cycle {k.cycle:2}: kill -9 scheduler {k.slot} (pid {k.pid}, up {k.alive_s:4.1f} s, {k.mode}, "
                  f"connection: {k.state}); {'two' if two else 'one'} running; {stream.inserted} deadlines so far",
                  flush=True)
        kill_phase = time.monotonic() - t0
        w1 = utcnow()
    finally:
        stream.stop.set()
        thread.join(timeout=30)
    # Drain: one scheduler until every deadline is overdue and every firing dispatched.
    for slot in ("A", "B"):
        if slots.alive(slot):
            slots.end(slot, kill=False)
    slots.start("A")
    last_due = stream.last_due or utcnow()
    timeout = max(0.0, (last_due - utcnow()).total_seconds()) + args.drain_timeout

    def drained() -> bool:
        with engine.connect() as conn:
            pending = conn.execute(text("SELECT count(*) FROM deadlines WHERE status = 'pending'")).scalar_one()
            undispatched = conn.execute(
                text("SELECT count(*) FROM deadline_events WHERE dispatched_at IS NULL")).scalar_one()
        return pending == 0 and undispatched == 0

    t_drain = time.monotonic()
    finished = wait_until(drained, timeout=timeout, every=1.0)
    drain_s = time.monotonic() - t_drain
    slots.end("A", kill=False)
    result = measure(engine, slots.logs, slots.spans, audit_keyring(children.workdir))
    result.update(kills=kills, kill_phase=kill_phase, downtime=downtime(slots.spans, w0, w1), drain=drain_s, finished=finished, inserted=stream.inserted,
                  stream_errors=stream.errors, starts=slots.starts)
    engine.dispose()
    return result


def downtime(spans: list[list], start, end) -> float:
    """Seconds between start and end with no scheduler process up."""
    up = sorted((max(r, start), min(e or end, end)) for r, e in spans if r < end and (e or end) > start)
    covered_s, cursor = 0.0, start
    for a, b in up:
        a = max(a, cursor)
        if b > a:
            covered_s += (b - a).total_seconds()
            cursor = b
    return (end - start).total_seconds() - covered_s


def covered(point, spans, margin: timedelta) -> bool:
    """Tell whether some scheduler was up from the point until at least `margin` after it."""
    return any(ready <= point and (end is None or end >= point + margin) for ready, end in spans)


def measure(engine, logs: list[Path], spans: list[list], keyring) -> dict:
    q = lambda sql: conn.execute(text(sql))  # noqa: E731
    with engine.connect() as conn:
        total = q("SELECT count(*) FROM deadlines").scalar_one()
        statuses = dict(q("SELECT status, count(*) FROM deadlines GROUP BY status").all())
        overdue_counts = Counter(q(
            "SELECT count(e.id) FROM deadlines d LEFT JOIN deadline_events e "
            "ON e.deadline_id = d.id AND e.kind = 'overdue' GROUP BY d.id").scalars().all())
        stage_dupes = q("SELECT count(*) FROM (SELECT 1 FROM deadline_events GROUP BY deadline_id, timing_version, "
                        "stage HAVING count(*) > 1) x").scalar_one()
        warn_counts = Counter(q(
            "SELECT count(e.id) FROM deadlines d LEFT JOIN deadline_events e "
            "ON e.deadline_id = d.id AND e.kind = 'warning' GROUP BY d.id").scalars().all())
        audit_counts = Counter(q(
            "SELECT count(a.seq) FROM deadlines d LEFT JOIN audit_entries a "
            "ON a.entity = 'deadline' AND a.action = 'deadline.overdue' AND a.entity_id = d.id::text "
            "GROUP BY d.id").scalars().all())
        early = q("SELECT count(*) FROM deadline_events WHERE fired_at < fire_at").scalar_one()
        bad_stage = q("SELECT count(*) FROM deadlines WHERE status = 'overdue' AND "
                      "(next_fire_at IS NOT NULL OR fire_stage <> json_array_length(warn_before::json) + 1)"
                      ).scalar_one()
        undispatched = q("SELECT count(*) FROM deadline_events WHERE dispatched_at IS NULL").scalar_one()
        events = q("SELECT e.kind, e.fire_at, e.fired_at, i.number, d.created_at FROM deadline_events e "
                   "JOIN incidents i ON i.id = e.incident_id JOIN deadlines d ON d.id = e.deadline_id").all()
    with Session(engine) as session:
        chain = audit.verify(session, keyring)
    # Points already passed when the stream inserted the row fire at the next tick by design;
    # their lag is measured from the insert, not from the point.
    margin = timedelta(seconds=1.5)
    lag_overdue = stats((fired - max(fa, created)).total_seconds()
                        for kind, fa, fired, _, created in events if kind == "overdue")
    lag_warning = stats((fired - max(fa, created)).total_seconds()
                        for kind, fa, fired, _, created in events if kind == "warning")
    lag_up = stats((fired - max(fa, created)).total_seconds()
                   for _, fa, fired, _, created in events if covered(max(fa, created), spans, margin))
    lag_down = stats((fired - max(fa, created)).total_seconds()
                     for _, fa, fired, _, created in events if not covered(max(fa, created), spans, margin))
    born_late = sum(1 for _, fa, _, _, created in events if fa < created)
    parsed = read_scheduler_logs(logs)
    fired = Counter((number, kind) for kind, _, _, number, _ in events)
    delivered = Counter((number, kind) for _, kind, number in parsed.notices)
    lost = sum(max(0, n - delivered[key]) for key, n in fired.items())
    dup = sum(max(0, n - fired[key]) for key, n in delivered.items())
    return {
        "total": total, "statuses": statuses, "not_overdue": total - statuses.get("overdue", 0),
        "fired0": overdue_counts.get(0, 0), "fired1": overdue_counts.get(1, 0),
        "fired_more": sum(v for k, v in overdue_counts.items() if k > 1), "stage_dupes": stage_dupes,
        "warn_counts": dict(sorted(warn_counts.items())), "audit0": audit_counts.get(0, 0),
        "audit_more": sum(v for k, v in audit_counts.items() if k > 1), "early": early, "bad_stage": bad_stage,
        "chain_ok": chain.ok, "chain_entries": chain.entries, "chain_problems": chain.problems[:5],
        "undispatched": undispatched, "lag_overdue": lag_overdue, "born_late": born_late, "lag_up": lag_up,
        "lag_down": lag_down, "lag_warning": lag_warning,
        "notices": len(parsed.notices), "lost_notices": lost, "dup_notices": dup, "failed_ticks": parsed.failed,
        "skipped_ticks": parsed.skipped,
    }


def report(r: dict, args) -> None:
    banner(f"CRASH TEST — {len(r['kills'])} x kill -9 of `flask --app wsgi scheduler` "
           f"(SCHEDULER_INTERVAL={args.interval}), two at once in cycles {args.two_from}-{args.two_to}, PostgreSQL")
    states = Counter("in transaction" if k.state in IN_XACT else k.state for k in r["kills"])
    print(f"kill phase {r['kill_phase']:.0f} s ({r['downtime']:.0f} s of it with no scheduler up), "
          f"{r['starts']} scheduler starts; kills: "
          + ", ".join(f"{n} {s}" for s, n in states.items()))
    print(f"deadlines streamed: {r['inserted']} (stream errors: {len(r['stream_errors'])}); drain "
          f"{'finished' if r['finished'] else 'TIMED OUT'} in {r['drain']:.0f} s")
    print(f"deadline statuses: {r['statuses']} -> not 'overdue': {r['not_overdue']}")
    print(f"overdue firings per deadline: 0 times: {r['fired0']}, once: {r['fired1']}, more than once: "
          f"{r['fired_more']}   (TARGET 0 and 0: {'MET' if r['fired0'] == 0 and r['fired_more'] == 0 else 'MISSED'})")
    print(f"same (deadline, timing, stage) fired twice: {r['stage_dupes']}; fired before its point: {r['early']}; "
          f"overdue rows with a stage/next_fire_at left: {r['bad_stage']}")
    print(f"warnings per deadline (0 = overtaken while no scheduler ran, by design): {r['warn_counts']}")
    print(f"'deadline.overdue' audit entries per deadline: 0: {r['audit0']}, >1: {r['audit_more']}; audit chain "
          f"{'intact' if r['chain_ok'] else 'BROKEN'} ({r['chain_entries']} entries) {r['chain_problems'] or ''}")
    print(f"notices logged {r['notices']}: firings never delivered {r['lost_notices']}, extra deliveries "
          f"{r['dup_notices']} (at-least-once after a kill); undispatched at the end {r['undispatched']}; "
          f"failed ticks {r['failed_ticks']}, overrun ticks {r['skipped_ticks']}")
    print(f"lag overdue  fired_at - max(fire_at, row created) (s): {r['lag_overdue'].row()}")
    print(f"lag warnings fired_at - max(fire_at, row created) (s): {r['lag_warning'].row()}")
    print(f"lag, all firings, point with a scheduler up from it to 1.5 s after (s): {r['lag_up'].row()}")
    print(f"lag, all firings, point while no scheduler was up or it died < 1.5 s later (s): {r['lag_down'].row()}")
    print(f"({r['born_late']} firings were of points already passed when the stream inserted the row; fired_at is "
          f"the tick's start, which can precede the row's insert by the length of a tick: hence negative minima)")
    print("(the lag includes the downtime of every restart: the process start-up with no scheduler in the "
          "one-process cycles)", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.crash_scheduler", description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.25)
    parser.add_argument("--two-from", type=int, default=6, help="first cycle (1-based) with two schedulers")
    parser.add_argument("--two-to", type=int, default=15, help="last cycle with two schedulers")
    parser.add_argument("--rate", type=float, default=60.0, help="deadlines per second in the stream")
    parser.add_argument("--burst", type=int, default=400, help="deadlines due at one instant, every --burst-every s")
    parser.add_argument("--burst-every", type=float, default=12.0)
    parser.add_argument("--max-deadlines", type=int, default=12_000)
    parser.add_argument("--drain-timeout", type=float, default=150.0, help="seconds after the last due point")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)
    return run_on_scratch_database(run, report, args)


if __name__ == "__main__":
    main()
