"""Sixteen audited writers at once on PostgreSQL: registration, assignment and acknowledgement latency, and the chain.

Runs the app as deployed (`gunicorn -w 2 --threads 8`, SCHEDULER=off) plus one `flask scheduler`
process, which seals the entries writers left waiting (AUDIT_SEAL_EVERY, 0.5 s). Each of the
writers (keep-alive http.client connections, one thread each) loops: register an incident (office),
assign it a task (office), acknowledge the task (the department's duty officer). Two phases per
sealing mode: closed loop (each writer sends its next request when the last one answered: on 2 shared
cores this is CPU-bound, whatever the locks) and paced (the writers together at --rate requests per
second, each request's latency counted from when it was due, so a queue shows). After each mode:
entries sealed, entries still waiting, the chain verified with the key (no gap, no fork), and the
sealing lag (an inbox row first seen -> gone, sampled every 50 ms). The same run with
AUDIT_SEALING=inline (every writer waits on the head's row lock, as before migration 0022) compares.

    python -m bench.audit_writers [--writers 16] [--seconds 30] [--rate 40] [--modes batched,inline]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import threading
import time
from collections import Counter, defaultdict

from sqlalchemy import text
from sqlalchemy.orm import Session

from bench.common import (
    ROOT,
    Sampler,
    Children,
    READY,
    app_env,
    audit_keyring,
    banner,
    children_of,
    cpu_seconds,
    free_port,
    run_on_scratch_database,
    stats,
    tool,
    utcnow,
    wait_for_line,
    wait_http,
    wait_until,
)
from bench.register_api import WaitSampler, _self_cpu, payload
from incidents.kernel.db import make_engine
from incidents.records import audit

HOST = "127.0.0.1"
PROBE = "bench-probe"  # the benchmark's own PostgreSQL connections
KINDS = ("register", "assign", "ack")


def make_user(env: dict, name: str, *extra: str) -> str:
    """Create a user with `flask users create`; return its API token (the last line printed)."""
    done = subprocess.run(tool("flask") + ["--app", "wsgi", "users", "create", "--name", name, *extra],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"users create failed: {done.stderr}")
    return done.stdout.strip().splitlines()[-1]


class Writers:
    """Writers that register, assign and acknowledge over keep-alive connections, closed loop or paced."""

    def __init__(self, port: int, office: str, duty: str, writers: int) -> None:
        self.port, self.writers = port, writers
        self.office = {"Content-Type": "application/json", "Authorization": f"Bearer {office}"}
        self.duty = {"Content-Type": "application/json", "Authorization": f"Bearer {duty}"}
        self.counter = 0
        self.lock = threading.Lock()

    def _post(self, conn, url: str, body: dict | bytes, headers: dict) -> tuple[object, dict | None]:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            conn.request("POST", url, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, (json.loads(raw) if raw else None)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            return type(exc).__name__, None

    def run(self, seconds: float, rate: float | None) -> dict:
        """Run for `seconds`; `rate` total requests per second (None: closed loop)."""
        latencies: dict[str, list[float]] = defaultdict(list)
        errors: Counter = Counter()
        discovered = utcnow().isoformat()
        end = time.monotonic() + seconds
        gap = self.writers / rate if rate else 0.0  # seconds between one writer's requests

        def worker(k: int) -> None:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
            due = time.monotonic() + (gap * k / self.writers)
            mine: dict[str, list[float]] = defaultdict(list)
            bad: Counter = Counter()

            def step(kind: str, url: str, body, headers, expect: int):
                nonlocal due, conn
                if gap:
                    pause = due - time.monotonic()
                    if pause > 0:
                        time.sleep(pause)
                start = due if gap else time.monotonic()  # paced: from when it was due (a queue shows)
                status, answer = self._post(conn, url, body, headers)
                if not isinstance(status, int):
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=30)
                mine[kind].append(time.monotonic() - start)
                due += gap
                if status != expect:
                    bad[f"{kind} {status}"] += 1
                    return None
                return answer

            while time.monotonic() < end:
                with self.lock:
                    self.counter += 1
                    i = self.counter
                incident = step("register", "/api/v1/incidents", payload(i, discovered), self.office, 201)
                if incident is None:
                    continue
                task = step("assign", f"/api/v1/incidents/{incident['id']}/assignments",
                            {"department": "food_coord", "task": f"现场核查(压测 {i})"}, self.office, 201)
                if task is None:
                    continue
                step("ack", f"/api/v1/assignments/{task['id']}/ack", {}, self.duty, 200)
            conn.close()
            with self.lock:
                for kind, values in mine.items():
                    latencies[kind].extend(values)
                errors.update(bad)

        threads = [threading.Thread(target=worker, args=(k,), name=f"writer-{k}") for k in range(self.writers)]
        t0 = time.monotonic()
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=seconds + 120)
        wall = time.monotonic() - t0
        return {"wall": wall, "latency": {k: stats(v) for k, v in latencies.items()},
                "requests": sum(len(v) for v in latencies.values()), "errors": errors, "rate": rate}


class InboxSampler(Sampler):
    """Poll the audit inbox every 50 ms: how long each waiting entry stayed (first seen -> gone)."""

    name = "inbox-sampler"

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.first_seen: dict[int, float] = {}
        self.lags: list[float] = []
        self.peak = 0

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                ids = set(conn.execute(text("SELECT id FROM audit_inbox")).scalars())
                conn.rollback()
                now = time.monotonic()
                self.peak = max(self.peak, len(ids))
                for i in ids - self.first_seen.keys():
                    self.first_seen[i] = now
                for i in [i for i in self.first_seen if i not in ids]:
                    self.lags.append(now - self.first_seen.pop(i))
                self._stop.wait(0.05)


def run_mode(url: str, children: Children, args, mode: str) -> dict:
    env = app_env(url, children.workdir, AUDIT_SEALING=mode, AUDIT_SEAL_EVERY="0.5")
    office = make_user(env, f"bench-office-{mode}", "--role", "office", "--department", "office")
    duty = make_user(env, f"bench-duty-{mode}", "--role", "duty_officer", "--department", "food_coord",
                     "--phone", "+8613800000001")
    port = free_port()
    log = children.workdir / f"gunicorn-{mode}.log"
    cmd = tool("gunicorn") + ["-w", "2", "--threads", str(args.threads), "-b", f"{HOST}:{port}",
                              "--control-socket", str(children.workdir / f"gunicorn-{mode}.ctl"), "wsgi:app"]
    master = children.start(cmd, env=env, log=log)
    sched_log = children.workdir / f"scheduler-{mode}.log"
    sealer = children.start(tool("flask") + ["--app", "wsgi", "scheduler"], env=env, log=sched_log)
    wait_http(port, master, "/api/v1/openapi.json", log=log)
    if wait_for_line(sched_log, READY, timeout=60, proc=sealer) is None:
        raise RuntimeError(f"the scheduler did not start:\n{sched_log.read_text()[-3000:]}")
    engine = make_engine(url, connect_args={"application_name": PROBE})  # not counted as the app's
    keyring = audit_keyring(children.workdir)
    writers = Writers(port, office, duty, args.writers)
    phases = {}
    try:
        writers.run(3, None)  # warm-up: connections, imports, caches (not counted)
        with engine.connect() as conn:
            entries0 = conn.execute(text("SELECT count(*) FROM audit_entries")).scalar_one()
        for phase, rate in (("closed loop", None), (f"paced {args.rate:g} req/s", args.rate)):
            pids = children_of(master.pid) + [master.pid]
            pg0 = _backend_cpu(engine)
            waits, inbox = WaitSampler(engine), InboxSampler(engine)
            waits.start()
            inbox.start()
            cpu0 = (cpu_seconds(pids), cpu_seconds([sealer.pid]), _self_cpu())
            result = writers.run(args.seconds, rate)
            cpu1 = (cpu_seconds(pids), cpu_seconds([sealer.pid]), _self_cpu())
            pg1 = _backend_cpu(engine)
            wait_until(lambda: not inbox.first_seen, timeout=5, every=0.1)  # the last ones get sealed
            waits.stop()
            inbox.stop()
            # A backend opened during the phase counts from zero; one closed during it is lost (pools keep theirs).
            result["cpu"] = {"gunicorn": cpu1[0] - cpu0[0], "postgres": sum(c - pg0.get(p, 0.0) for p, c in pg1.items()),
                             "scheduler": cpu1[1] - cpu0[1], "client": cpu1[2] - cpu0[2]}
            result["waits"] = waits.top()
            result["blocked"] = [(k, v / max(1, waits.samples)) for k, v in waits.blocked.most_common(4)]
            result["lag"] = stats(inbox.lags)
            result["inbox_peak"] = inbox.peak
            result["went_through_inbox"] = len(inbox.lags)
            phases[phase] = result
        wait_until(lambda: _waiting(engine) == 0, timeout=10, every=0.2)
        with Session(engine) as session:
            checked = audit.verify(session, keyring)
            seqs = session.execute(text("SELECT count(*), min(seq), max(seq) FROM audit_entries")).one()
            waiting_left = audit.waiting(session)
    finally:
        engine.dispose()
        children.stop(sealer)
        children.stop(master)
    server_errors = log.read_text(errors="replace").count("ERROR in app")
    sealer_errors = sched_log.read_text(errors="replace").count("audit sealing failed")
    return {"mode": mode, "phases": phases, "verify": checked, "count": seqs[0], "min": seqs[1], "max": seqs[2],
            "sealed": seqs[0] - entries0, "waiting": waiting_left, "server_errors": server_errors,
            "sealer_errors": sealer_errors, "cmd": " ".join(["gunicorn"] + cmd[1:])}


def _backend_cpu(engine) -> dict[int, float]:
    """CPU seconds used so far by each PostgreSQL backend of the scratch database (but this one)."""
    with engine.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                 "AND application_name <> :probe"), {"probe": PROBE}).scalars().all()
    return {pid: cpu_seconds([pid]) for pid in pids}


def _waiting(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_inbox")).scalar_one()


def run(url: str, children: Children, args) -> list[dict]:
    return [run_mode(url, children, args, mode) for mode in args.modes.split(",")]


def report(results: list[dict], args) -> None:
    banner(f"AUDIT WRITERS — {args.writers} writers (register, assign, acknowledge) under `gunicorn -w 2 --threads "
           f"{args.threads}` + `flask scheduler` (the sealer), PostgreSQL, {os.cpu_count()} cores shared by all")
    for r in results:
        print(f"\n--- AUDIT_SEALING={r['mode']} ---")
        for phase, p in r["phases"].items():
            done = p["requests"]
            print(f"{phase}: {done} requests in {p['wall']:.1f} s = {done / p['wall']:.1f} req/s; "
                  f"errors {sum(p['errors'].values())}{' ' + str(dict(p['errors'])) if p['errors'] else ''}")
            for kind in KINDS:
                s = p["latency"].get(kind)
                if s is not None and s.n:
                    print(f"  {kind:<8} n={s.n:<5} p50 {s.p50 * 1000:7.1f} ms  p99 {s.p99 * 1000:7.1f} ms  "
                          f"max {s.max * 1000:7.1f} ms")
            cpu = p["cpu"]
            total = cpu["gunicorn"] + cpu["postgres"] + cpu["scheduler"]
            print(f"  CPU per request: {1000 * total / max(1, done):.1f} ms (app {1000 * cpu['gunicorn'] / max(1, done):.1f}, "
                  f"PostgreSQL {1000 * cpu['postgres'] / max(1, done):.1f}, sealer {1000 * cpu['scheduler'] / max(1, done):.2f}); "
                  f"client {cpu['client']:.1f} s over the phase; {os.cpu_count()} cores x {p['wall']:.0f} s = "
                  f"{(os.cpu_count() or 1) * p['wall']:.0f} core-s, used {total + cpu['client']:.0f}")
            lag = p["lag"]
            print(f"  entries that waited in the inbox (seen by a 50 ms sampler): {p['went_through_inbox']}, at most "
                  f"{p['inbox_peak']} at once; sealing lag p50 {lag.p50 * 1000:.0f} ms, p99 {lag.p99 * 1000:.0f} ms, "
                  f"max {lag.max * 1000:.0f} ms")
            print("  connections busy, by state (average): " + "; ".join(f"{k} {v:.2f}" for k, v in p["waits"]))
            if p["blocked"]:
                print("  waiting on a lock: " + "; ".join(f"{k!r} {v:.2f}" for k, v in p["blocked"]))
        v = r["verify"]
        gapless = r["count"] == (r["max"] or 0) and (r["min"] in (1, None))
        print(f"chain: {r['count']} entries, seq {r['min']}–{r['max']} ({'no gap' if gapless else 'GAP'}), "
              f"{r['sealed']} written in this mode, {r['waiting']} still waiting; verify with the key: "
              f"{'intact' if v.ok else 'BROKEN: ' + '; '.join(v.problems[:5])}")
        print(f"server errors logged: {r['server_errors']}; sealer failures logged: {r['sealer_errors']}")
    print(f"\nserver: {results[0]['cmd'] if results else ''}", flush=True)


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_writers", description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--threads", type=int, default=8, help="gunicorn threads per worker (2 workers)")
    parser.add_argument("--seconds", type=float, default=30.0, help="per phase")
    parser.add_argument("--rate", type=float, default=40.0, help="total requests per second of the paced phase")
    parser.add_argument("--modes", default="batched,inline", help="AUDIT_SEALING values to run, in order")
    args = parser.parse_args(argv)
    return run_on_scratch_database(run, report, args)


if __name__ == "__main__":
    main()
