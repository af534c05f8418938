"""Escalation latency: time from a step coming due to the provider call, with 1,000 escalations at once.

Target (issue 4): p99 <= 2 s with 1,000 escalations running at once.

Set-up, per database (a scratch PostgreSQL database; SQLite in a temporary file):
* The plan is the seed plan plus 1,000 departments ("b0001"...), so that every escalation
  can have a duty officer, and a phone, of its own (tests/escalation_plans.py; chains and
  delivery rules as in the seed plan). The seed's 19 departments stay for the `shared` runs.
* Through the domain's own functions (service.register_incident, duty.add_shift,
  assignments.assign): 50 level-I incidents, one shift per department, and 2 x 1,000
  assignments, each starting its escalation (the level-I chain, frozen on the row): 1,000
  to the 1,000 departments (`distinct`: 1,000 phones), 1,000 to the 19 seed departments
  (`shared`: about 53 escalations per phone, which the engine bundles).
* Before each run every escalation is set running at its SMS step (step 1, the duty officer's
  SMS) with its due time (next_at) in the future, started_at = due - 2 min as if the chain had
  run; the deliveries of the previous run are deleted. Then one real scheduler process,
  `flask --app wsgi scheduler` (SCHEDULER_INTERVAL 0.5 s, ESCALATION_WORKERS 8,
  SCHEDULER_BATCH 500: the defaults), sends through the real twilio SDK to the Twilio stub
  (tests/timed_stub.py), which runs in this process and notes when each request arrives.
* Runs: `spread` (1,000 due uniformly over 30 s), `burst` (all 1,000 due within the same
  second), `burst+lat` (the stub answers each request after 200 ms, roughly what a real
  provider's API takes, so the 8 sending threads are what limits), `shared-burst` (1,000 due
  in the same second for 19 phones).

Latency of a delivery = the stub's receive time of the request that carried it (its own or
its bundle's) - its step's due time. Also shown, per delivery: fired (Delivery.created_at,
the `now` of the advance that fired the step), claimed (claimed_at) and recorded (sent_at),
each minus the due time. Throughput = deliveries / (last request - first due point).

    python -m bench.escalation [--count 1000] [--runs pg:spread,pg:burst,...] [--profile]

--profile runs the scheduler under cProfile (one process, sends in its job thread) for a
burst on PostgreSQL and prints where the time goes.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import bindparam, delete, select, text, update

from bench.common import (
    READY,
    ROOT,
    Children,
    app_env,
    banner,
    cpu_seconds,
    percentile,
    scratch_database,
    tool,
    utcnow,
    wait_for_line,
    wait_until,
)
from app.migrate import upgrade
from incidents.response import assignments, service
from incidents.people import duty
from incidents.kernel.clock import SystemClock
from incidents.models import Delivery, Escalation, User
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.escalation_plans import write_derived_plan
from tests.helpers import incident_payload
from tests.timed_stub import TimedStub

TARGET_P99 = 2.0
DISTINCT, SHARED = "distinct", "shared"
SEED_DEPARTMENTS = ["office", "publicity", "finance", "personnel", "legal", "food_coord", "catering",
                    "food_circulation", "food_production", "drugs", "special_equipment", "prices", "metrology",
                    "enforcement", "anti_unfair", "online", "advertising", "product_quality", "complaints"]
INCIDENTS = 50
SMS_STEP = 1  # the level-I chain: board, SMS to the duty officer after 2 min, ...
SMS_AFTER = timedelta(minutes=2)
RUNS = "pg:spread,pg:burst,pg:burst+lat,pg:shared-burst,sqlite:spread,sqlite:burst"
LOADER = SystemActor(name="bench")


def bench_department(i: int) -> str:
    return f"b{i:04d}"


def officer_phone(kind: str, i: int) -> str:
    return f"+86{'137' if kind == DISTINCT else '136'}{i:08d}"


@dataclass
class Run:
    db: str
    mode: str  # spread | burst | burst+lat | shared-burst
    n: int
    finished: bool
    wall: float
    messages: int
    latency: list[float]
    fired: list[float]
    claimed: list[float]
    recorded: list[float]
    statuses: dict
    throughput: float
    cpu: float
    skipped: int
    failed: int
    early: int


# --- seeding, through the domain -----------------------------------------------------------

def make_app(url: str, plan_file: Path):
    from app import create_app

    return create_app({"DATABASE_URL": url, "PLAN_FILE": str(plan_file), "SCHEDULER": "off",
                       "CLOCK": SystemClock(), "SECRET_KEY": "bench", "TESTING": True})


def seed(app, count: int) -> dict[str, list[int]]:
    """Create the incidents, shifts and assignments; return the escalation ids of each kind."""
    wiring = app.extensions["yingji"]
    plan = wiring.plan
    t0 = time.monotonic()
    now = wiring.clock.now()
    with wiring.sessions() as session:
        office, _ = create_user(session, plan, name="压测办公室", role="office", unit="office", now=now, actor=LOADER)
        session.commit()
        office_id = office.id
    with wiring.sessions() as session:
        office = session.get(User, office_id)
        for kind, codes in ((DISTINCT, [bench_department(i) for i in range(count)]), (SHARED, SEED_DEPARTMENTS)):
            for i, code in enumerate(codes):
                duty.add_shift(session, plan, department=code, starts_at=now - timedelta(hours=1),
                               ends_at=now + timedelta(hours=12), officer_name=f"值班{i}",
                               phone=officer_phone(kind, i), actor=office, now=now)
        incident_ids = []
        for i in range(INCIDENTS):
            body = incident_payload(title=f"压测事件{i}", station=None)
            facts = service.NewIncident(**{k: body[k] for k in ("title", "category", "location", "station", "source",
                                                               "nature", "scope", "trend", "measures_taken",
                                                               "casualties")},
                                        discovered_at=now, level="I", level_reason="压测")
            incident_ids.append(service.register_incident(session, plan, facts=facts, actor=office, now=now).id)
        session.commit()
    out: dict[str, list[int]] = {DISTINCT: [], SHARED: []}
    for kind in (DISTINCT, SHARED):
        for start in range(0, count, 100):
            with wiring.sessions() as session:
                office = session.get(User, office_id)
                for i in range(start, min(count, start + 100)):
                    code = bench_department(i) if kind == DISTINCT else SEED_DEPARTMENTS[i % len(SEED_DEPARTMENTS)]
                    row = assignments.assign(session, incident_id=incident_ids[i % INCIDENTS], department=code,
                                             task=f"派员核查第{i}项", actor=office, now=wiring.clock.now())
                    out[kind].append(row.id)
                session.commit()
    with wiring.sessions() as session:
        by_assignment = dict(session.execute(select(Escalation.assignment_id, Escalation.id)).all())
        first_clock = session.execute(text("SELECT min(next_fire_at) FROM deadlines")).scalar()
    print(f"seeded {INCIDENTS} incidents, {count + len(SEED_DEPARTMENTS)} shifts, {2 * count} assignments and "
          f"their escalations in {time.monotonic() - t0:.0f} s; first clock fire point {first_clock}", flush=True)
    return {kind: [by_assignment[a] for a in ids] for kind, ids in out.items()}


def arm(app, ids: list[int], dues: list[datetime]) -> None:
    """Delete the deliveries, stop every escalation, set these running at their SMS step, due at dues."""
    wiring = app.extensions["yingji"]
    t = Escalation.__table__
    with wiring.engine.begin() as conn:
        conn.execute(delete(Delivery.__table__))
        conn.execute(update(t).values(status="stopped", next_at=None))
        conn.execute(update(t).where(t.c.id == bindparam("b_id")).values(
            status="running", next_step=SMS_STEP, next_at=bindparam("b_due"), started_at=bindparam("b_start"),
            stopped_at=None, stop_reason=None),
            [{"b_id": i, "b_due": d, "b_start": d - SMS_AFTER} for i, d in zip(ids, dues)])
    if wiring.engine.dialect.name == "postgresql":
        with wiring.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE escalations"))
            conn.execute(text("VACUUM ANALYZE deliveries"))


# --- one run ---------------------------------------------------------------------------------

def run_once(app, url: str, plan_file: Path, children: Children, ids: dict[str, list[int]], *, db: str, mode: str,
             count: int, spread: float, lead: float, rng: random.Random, workers: int) -> Run:
    kind = SHARED if mode.startswith("shared") else DISTINCT
    window = spread if mode == "spread" else 1.0
    base = utcnow() + timedelta(seconds=lead)
    chosen = ids[kind][:count]
    dues = [base + timedelta(seconds=rng.uniform(0, window)) for _ in chosen]
    due_of = dict(zip(chosen, dues))
    arm(app, chosen, dues)
    stub = TimedStub(latency=(lambda: 0.2) if mode.endswith("+lat") else None).start()
    try:
        env = app_env(url, children.workdir, SCHEDULER_INTERVAL="0.5", PLAN_FILE=str(plan_file),
                      ESCALATION_WORKERS=str(workers), PGAPPNAME=f"yingji-bench-esc-{mode}",
                      **{k: str(v) for k, v in stub.settings().items()})
        log = children.workdir / f"scheduler-{db}-{mode}.log"
        proc = children.start(tool("flask") + ["--app", "wsgi", "scheduler"], env=env, log=log)
        if wait_for_line(log, READY, timeout=60, proc=proc) is None:
            raise RuntimeError(f"scheduler did not start:\n{log.read_text()[-3000:]}")
        cpu0 = cpu_seconds([proc.pid])
        margin = (base - utcnow()).total_seconds()
        print(f"[{db} {mode}] scheduler ready {margin:.1f} s before the first due point", flush=True)
        wiring = app.extensions["yingji"]

        def done() -> bool:
            with wiring.engine.connect() as conn:
                n, open_ = conn.execute(text(
                    "SELECT count(*), count(*) FILTER (WHERE status IN ('pending', 'held', 'sending')) "
                    "FROM deliveries" if db == "pg" else
                    "SELECT count(*), sum(status IN ('pending', 'held', 'sending')) FROM deliveries")).one()
            return n >= len(chosen) and not open_

        t0 = time.monotonic()
        finished = wait_until(done, timeout=lead + window + 120, every=0.25)
        wall = time.monotonic() - t0
        cpu = cpu_seconds([proc.pid]) - cpu0
        children.stop(proc)
    finally:
        stub.stop()
    text_log = log.read_text(errors="replace")
    with wiring.sessions() as session:
        rows = session.scalars(select(Delivery).where(Delivery.escalation_id.in_(chosen))).all()
    by_id = {d.id: d for d in rows}
    got = {r.sid: r.received_at for r in stub.sent()}
    latency, fired, claimed, recorded, statuses = [], [], [], [], {}
    early = 0
    for d in rows:
        statuses[d.status] = statuses.get(d.status, 0) + 1
        due = due_of[d.escalation_id]
        carrier = by_id.get(d.bundle_id) if d.bundle_id else d
        fired.append((d.created_at - due).total_seconds())
        if carrier is not None and carrier.claimed_at:
            claimed.append((carrier.claimed_at - due).total_seconds())
        if carrier is not None and carrier.sent_at:
            recorded.append((carrier.sent_at - due).total_seconds())
        at = got.get(carrier.provider_id) if carrier is not None else None
        if at is not None:
            latency.append(at - due.timestamp())
            early += at < due.timestamp()
    last = max(got.values(), default=base.timestamp())
    throughput = len(latency) / max(1e-9, last - min(dues).timestamp())
    return Run(db, mode, len(chosen), finished, wall, len(got), latency, fired, claimed, recorded, statuses,
               throughput, cpu, text_log.count("maximum number of running instances reached"),
               text_log.count("scheduler tick failed"), early)


# --- profile ---------------------------------------------------------------------------------

def profile_child() -> None:
    """Run the scheduler's tick in this thread under cProfile until SIGTERM; print the top functions."""
    from app import create_app
    from app.push import use_external_emitter
    from app.jobs.clocks import senders_for, tick, walker_for
    from notifiers.dispatch import Dispatcher

    app = create_app()
    use_external_emitter(app)
    wiring = app.extensions["yingji"]
    walker = walker_for(app, workers=1)  # sends in this thread, so the profile sees them
    deliver = Dispatcher(senders_for(app))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(READY, flush=True)
    prof = cProfile.Profile()
    busy = 0.0
    interval = app.config["SCHEDULER_INTERVAL"]
    while not stop:
        t = time.monotonic()
        prof.enable()
        tick(wiring, deliver, walker=walker, batch=app.config["SCHEDULER_BATCH"])
        prof.disable()
        took = time.monotonic() - t
        if took > 0.05:
            busy += took
            print(f"tick took {took:.3f} s", flush=True)
        time.sleep(max(0.0, interval - took))
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(r"(incidents|notifiers|app)/", 60)
    stats.sort_stats("cumulative").print_stats(40)
    stats.sort_stats("tottime").print_stats(25)
    print(f"busy ticks total {busy:.2f} s", flush=True)
    print(out.getvalue(), flush=True)


def profile(app, url: str, plan_file: Path, children: Children, ids: dict[str, list[int]], *, count: int,
            rng: random.Random) -> None:
    chosen = ids[DISTINCT][:count]
    base = utcnow() + timedelta(seconds=10)
    arm(app, chosen, [base + timedelta(seconds=rng.uniform(0, 1.0)) for _ in chosen])
    stub = TimedStub().start()
    log = children.workdir / "profile.log"
    try:
        env = app_env(url, children.workdir, SCHEDULER_INTERVAL="0.5", PLAN_FILE=str(plan_file),
                      **{k: str(v) for k, v in stub.settings().items()})
        proc = children.start([sys.executable, "-m", "bench.escalation", "--profile-child"], env=env, log=log)
        if wait_for_line(log, READY, timeout=60, proc=proc) is None:
            raise RuntimeError(f"profiled scheduler did not start:\n{log.read_text()[-3000:]}")
        wiring = app.extensions["yingji"]

        def done() -> bool:
            with wiring.engine.connect() as conn:
                return conn.execute(text("SELECT count(*) FROM deliveries WHERE status = 'queued'")).scalar() >= count

        wait_until(done, timeout=150, every=0.5)
        time.sleep(1.0)
        children.stop(proc, timeout=60)
    finally:
        stub.stop()
    banner(f"PROFILE — burst of {count} SMS steps due within 1 s, PostgreSQL, one process, sends in the job "
           f"thread (ESCALATION_WORKERS=1), cProfile of the tick")
    print(log.read_text(errors="replace")[-30000:], flush=True)


# --- phases -----------------------------------------------------------------------------------

def phases(app, ids: dict[str, list[int]], *, count: int, workers: int, kind: str = DISTINCT) -> dict:
    """Time each phase of one cycle in this process for `count` due SMS steps; count SQL statements.

    The phases run one after the other, each on all the work: advance (fire every due step),
    claim (claim_outgoing until nothing is left), send (the Walker's sending threads, through
    the twilio SDK to a stub in another process), record (record_results of all answers).
    """
    from app.jobs.clocks import walker_for
    from incidents import escalation
    from sqlalchemy import event

    wiring = app.extensions["yingji"]
    chosen = ids[kind][:count]
    arm(app, chosen, [utcnow() - timedelta(seconds=1)] * len(chosen))
    stub = subprocess.Popen([sys.executable, "-c", STUB_CHILD], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        base_url = stub.stdout.readline().strip()
        from tests.twilio_stub import ACCOUNT_SID, AUTH_TOKEN, FROM_NUMBER

        app.config.update({"SMS_BACKEND": "twilio", "VOICE_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                           "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "TWILIO_FROM_NUMBER": FROM_NUMBER,
                           "TWILIO_API_BASE": base_url})
        walker = walker_for(app, workers=workers)
        statements = [0]

        def count_statement(*_args) -> None:
            statements[0] += 1

        event.listen(wiring.engine, "before_cursor_execute", count_statement)
        out: dict = {}
        try:
            rules = wiring.plan.delivery
            t = time.perf_counter()
            fired = escalation.advance(wiring.sessions, now=wiring.clock.now, batch=500)
            out["advance"] = (time.perf_counter() - t, statements[0], fired)
            statements[0] = 0
            t = time.perf_counter()
            outgoing = []
            while True:
                got = escalation.claim_outgoing(wiring.sessions, now=wiring.clock.now(), rules=rules, batch=500)
                if not got:
                    break
                outgoing += got
            out["claim"] = (time.perf_counter() - t, statements[0], len(outgoing))
            statements[0] = 0
            t = time.perf_counter()
            answers = list(walker._pool.map(walker._send, outgoing)) if walker._pool else \
                [walker._send(o) for o in outgoing]
            out["send"] = (time.perf_counter() - t, statements[0], sum(a.ok for a in answers))
            statements[0] = 0
            t = time.perf_counter()
            escalation.record_results(wiring.sessions, zip(outgoing, answers), now=wiring.clock.now(), rules=rules)
            out["record"] = (time.perf_counter() - t, statements[0], len(answers))
        finally:
            event.remove(wiring.engine, "before_cursor_execute", count_statement)
            walker.close()
    finally:
        stub.terminate()
        stub.wait(10)
    return out


STUB_CHILD = ("import sys, time; sys.path.insert(0, '.'); from tests.timed_stub import TimedStub; "
              "s = TimedStub().start(); print(s.base_url, flush=True); time.sleep(3600)")


def report_phases(db: str, kind: str, count: int, workers: int, out: dict) -> None:
    banner(f"PHASES — {count} SMS steps due at once ({kind} phones), {db}, in-process, {workers} sending threads; "
           f"each phase on all of them, one after the other")
    total = sum(v[0] for v in out.values())
    for name, (secs, stmts, n) in out.items():
        print(f"  {name:8} {secs:7.3f} s  {1000 * secs / max(1, count):6.2f} ms/escalation  "
              f"{stmts:6} SQL statements ({stmts / max(1, count):5.1f} per escalation)  [{n}]")
    print(f"  total    {total:7.3f} s  {1000 * total / max(1, count):6.2f} ms/escalation", flush=True)


# --- report ----------------------------------------------------------------------------------

def dist(values: list[float]) -> str:
    v = sorted(values)
    if not v:
        return "n=0"
    return (f"n={len(v):<5} p50={percentile(v, 50):.3f} p95={percentile(v, 95):.3f} p99={percentile(v, 99):.3f} "
            f"max={v[-1]:.3f}")


def report(results: list[Run], workers: int) -> None:
    banner("ESCALATION LATENCY — step due → provider receives the request (Twilio stub), one "
           f"`flask --app wsgi scheduler` (interval 0.5 s, {workers} sending threads, batch 500)")
    for r in results:
        p99 = percentile(sorted(r.latency), 99) if r.latency else float("nan")
        print(f"\n{r.db} {r.mode}: {r.n} escalations, {'drained' if r.finished else 'TIMED OUT'} in {r.wall:.1f} s; "
              f"{r.messages} provider requests; deliveries {r.statuses}; ticks skipped (overran) {r.skipped}, "
              f"failed {r.failed}; went out before due {r.early}")
        print(f"  latency  provider receive - due (s): {dist(r.latency)}")
        print(f"  fired    created_at - due       (s): {dist(r.fired)}")
        print(f"  claimed  claimed_at - due       (s): {dist(r.claimed)}")
        print(f"  recorded sent_at - due          (s): {dist(r.recorded)}")
        print(f"  throughput {r.throughput:.0f} deliveries/s (first due point to last request); "
              f"scheduler CPU {r.cpu:.1f} s ({1000 * r.cpu / max(1, r.n):.1f} ms per escalation)")
        print(f"  TARGET p99 <= {TARGET_P99:.0f} s: {'MET' if p99 <= TARGET_P99 else 'MISSED'} (p99 = {p99:.3f} s)")
    print(flush=True)


def main(argv: list[str] | None = None) -> list[Run]:
    argv = sys.argv[1:] if argv is None else argv
    if argv == ["--profile-child"]:
        profile_child()
        return []
    parser = argparse.ArgumentParser(prog="python -m bench.escalation", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="escalations running at once (1000)")
    parser.add_argument("--spread", type=float, default=30.0, help="seconds the `spread` due points cover (30)")
    parser.add_argument("--lead", type=float, default=8.0, help="seconds from arming to the first due point (8)")
    parser.add_argument("--runs", default=RUNS, help=f"db:mode, comma-separated ({RUNS})")
    parser.add_argument("--profile", action="store_true", help="only profile a PostgreSQL burst (cProfile)")
    parser.add_argument("--phases", default="", help="only time the phases in-process: db:kind,... "
                        "(e.g. pg:distinct,pg:shared)")
    parser.add_argument("--workers", type=int, default=8, help="ESCALATION_WORKERS, sending threads (8, as the runs in bench/README.md)")
    parser.add_argument("--seed", type=int, default=20261122)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    runs = [tuple(r.split(":", 1)) for r in args.runs.split(",") if r]
    results: list[Run] = []
    children = Children()
    plan_file = children.workdir / "plan-bench.yaml"
    write_derived_plan(plan_file, departments=[(bench_department(i), f"压测科室{i:04d}") for i in range(args.count)],
                       tag="bench")
    try:
        phase_runs = [tuple(r.split(":", 1)) for r in args.phases.split(",") if r]
        if phase_runs:
            runs = []
        dbs = ["pg"] if args.profile else sorted({db for db, _ in (phase_runs or runs)}, key=lambda d: d != "pg")
        for db in dbs:
            if db == "pg":
                ctx = scratch_database()
            else:
                path = children.workdir / "bench.db"
                upgrade(f"sqlite:///{path}")
                ctx = contextlib.nullcontext(f"sqlite:///{path}")
            with ctx as url:
                app = make_app(url, plan_file)
                try:
                    ids = seed(app, args.count)
                    for run_db, kind in phase_runs:
                        if run_db == db:
                            out = phases(app, ids, count=args.count, workers=args.workers, kind=kind)
                            report_phases(db, kind, args.count, args.workers, out)
                    if args.profile:
                        profile(app, url, plan_file, children, ids, count=args.count, rng=rng)
                        continue
                    for run_db, mode in runs:
                        if run_db == db:
                            results.append(run_once(app, url, plan_file, children, ids, db=db, mode=mode,
                                                    count=args.count, spread=args.spread, lead=args.lead, rng=rng,
                                                    workers=args.workers))
                finally:
                    app.extensions["yingji"].engine.dispose()
    finally:
        children.close()
    if results:
        report(results, args.workers)
    return results


if __name__ == "__main__":
    main()
