"""Registering an incident through the API: requests per second and latency on PostgreSQL.

Runs the app under gunicorn exactly as deployed (`gunicorn -w 2 --threads 4`, SCHEDULER=off,
its own --control-socket path, gunicorn 27 opens one by default at ~/.gunicorn/gunicorn.ctl),
creates an office user with `flask --app wsgi users create` (the token is the last line of
its output), and POSTs complete registration bodies (tests/helpers.py incident_payload, with
discovered_at = now - 5 min and a distinct title per request) to /api/v1/incidents from
keep-alive http.client connections, one thread each. Phases: a warm-up (not counted), one
connection (latency without queueing), then the measured run with several connections.
The client runs on the same 2 cores as gunicorn and PostgreSQL; the CPU each used is shown.

    python -m bench.register_api [--requests 2000] [--connections 8] [--serial 300]
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import subprocess
import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from bench.common import (
    ROOT,
    Sampler,
    Children,
    app_engine,
    app_env,
    banner,
    children_of,
    cpu_seconds,
    free_port,
    run_on_scratch_database,
    stats,
    tool,
    utcnow,
    wait_for_line,
)

HOST = "127.0.0.1"
PHASE_TIMEOUT = 300.0  # seconds; a phase stops by itself after this, whatever is left


def payload(i: int, discovered_at: str) -> bytes:
    """A complete registration body, as tests/helpers.py incident_payload, not graded."""
    return json.dumps({
        "title": f"某学校食堂疑似食物中毒(压测 {i})",
        "category": "food_poisoning",
        "discovered_at": discovered_at,
        "location": "城关镇某中学食堂",
        "station": "chengguan",
        "source": "县医院急诊科电话报告",
        "nature": "集体性食物中毒",
        "scope": "在校师生约20人出现腹痛、呕吐",
        "trend": "新增病例减少",
        "measures_taken": "封存留样食品,暂停食堂供餐",
        "casualties": "20人就医,无死亡",
    }, ensure_ascii=False).encode("utf-8")


def load(port: int, token: str, *, requests: int, connections: int, first: int) -> dict:
    """POST `requests` registrations over `connections` keep-alive connections; bounded in time."""
    discovered = (utcnow() - timedelta(minutes=5)).isoformat()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    lock = threading.Lock()
    state = {"next": 0}
    results: list[tuple[object, float]] = []
    end = time.monotonic() + PHASE_TIMEOUT

    def worker() -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        while time.monotonic() < end:
            with lock:
                i = state["next"]
                if i >= requests:
                    break
                state["next"] += 1
            body = payload(first + i, discovered)
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/incidents", body=body, headers=headers)
                resp = conn.getresponse()
                resp.read()
                status: object = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            mine.append((status, time.perf_counter() - t))
        conn.close()
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=worker, name=f"client-{k}") for k in range(connections)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=PHASE_TIMEOUT + 60)
    wall = time.perf_counter() - t0
    ok = [lat for status, lat in results if status == 201]
    return {"requests": len(results), "connections": connections, "wall": wall, "ok": len(ok),
            "rps": len(ok) / wall if wall else 0.0, "latency": stats(lat for _, lat in results),
            "errors": Counter(str(s) for s, _ in results if s != 201)}


def run(url: str, children: Children, args) -> dict:
    env = app_env(url, children.workdir)
    created = subprocess.run(tool("flask") + ["--app", "wsgi", "users", "create", "--name", "bench", "--role",
                                              "office", "--department", "office"],
                             env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
    if created.returncode != 0:
        raise RuntimeError(f"users create failed: {created.stderr}")
    token = created.stdout.strip().splitlines()[-1]

    port = free_port()
    log = children.workdir / "gunicorn.log"
    cmd = tool("gunicorn") + ["-w", str(args.workers), "--threads", str(args.threads), "-b", f"{HOST}:{port}",
                              "--control-socket", str(children.workdir / "gunicorn.ctl"), "wsgi:app"]
    master = children.start(cmd, env=env, log=log)
    if wait_for_line(log, "Booting worker", timeout=30, proc=master) is None:
        raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
    # Wait until the port answers (each worker imports the app after "Booting worker").
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=5)
            c.request("GET", "/api/v1/openapi.json")
            c.getresponse().read()
            c.close()
            break
        except OSError:
            time.sleep(0.1)
    engine = app_engine(url)
    try:
        warm = load(port, token, requests=args.warmup, connections=args.connections, first=0)
        serial = load(port, token, requests=args.serial, connections=1, first=args.warmup)

        workers = children_of(master.pid)
        with engine.connect() as conn:
            backends = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND pid <> pg_backend_pid()")).scalars().all()
        sampler = WaitSampler(engine)
        sampler.start()
        cpu0 = (cpu_seconds(workers + [master.pid]), cpu_seconds(backends), _self_cpu())
        main = load(port, token, requests=args.requests, connections=args.connections,
                    first=args.warmup + args.serial)
        cpu1 = (cpu_seconds(workers + [master.pid]), cpu_seconds(backends), _self_cpu())
        sampler.stop()
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM incidents")).scalar_one()
            pg_backends = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = "
                                            "current_database()")).scalar_one()
    finally:
        engine.dispose()
        children.stop(master)
    main["waits"] = sampler.top()
    main["blocked"] = [(k, v / max(1, sampler.samples)) for k, v in sampler.blocked.most_common(3)]
    main["server_errors"] = log.read_text(errors="replace").count("ERROR in app")
    main["server_error_kinds"] = Counter(line.split(":")[0] for line in log.read_text(errors="replace").splitlines()
                                         if line.startswith(("psycopg.errors.", "sqlalchemy.exc.")))
    main["cpu"] = {"gunicorn": cpu1[0] - cpu0[0], "postgres": cpu1[1] - cpu0[1], "client": cpu1[2] - cpu0[2]}
    return {"warmup": warm, "serial": serial, "main": main, "stored": stored, "pg_backends": pg_backends,
            "workers": len(workers), "cmd": " ".join(["gunicorn"] + cmd[1:])}


class WaitSampler(Sampler):
    """Sample what the app's PostgreSQL connections are doing, every 20 ms (bounded: 20,000 samples)."""

    name = "pg-wait-sampler"

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.counts: Counter = Counter()
        self.blocked: Counter = Counter()  # statements waiting on a lock
        self.samples = 0

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set() and self.samples < 20_000:
                rows = conn.execute(text(
                    "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()")).all()
                conn.rollback()
                self.samples += 1
                for state, wtype, wevent, query in rows:
                    if state == "idle":
                        continue
                    self.counts[f"{state}" + (f" / {wtype}:{wevent}" if wtype else " / on CPU")] += 1
                    if wtype == "Lock":
                        self.blocked[" ".join(query.split())] += 1
                self._stop.wait(0.02)

    def top(self, n: int = 6) -> list[tuple[str, float]]:
        """Most frequent non-idle states, as the average number of connections in each."""
        return [(k, v / max(1, self.samples)) for k, v in self.counts.most_common(n)]


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def report(r: dict, args) -> None:
    banner(f"REGISTER API — POST /api/v1/incidents under `gunicorn -w {args.workers} --threads {args.threads}`, "
           f"PostgreSQL, {os.cpu_count()} cores shared by client, server and database")
    sent = r["warmup"]["ok"] + r["serial"]["ok"] + r["main"]["ok"]
    for name in ("serial", "main"):
        p = r[name]
        lat = p["latency"]
        print(f"{p['connections']} connection(s), {p['requests']} requests in {p['wall']:.1f} s: "
              f"{p['rps']:.1f} req/s; latency p50 {lat.p50 * 1000:.1f} ms, p90 {lat.p90 * 1000:.1f} ms, "
              f"p99 {lat.p99 * 1000:.1f} ms, max {lat.max * 1000:.1f} ms; errors {sum(p['errors'].values())}"
              f"{' ' + str(dict(p['errors'])) if p['errors'] else ''}")
    cpu, wall = r["main"]["cpu"], r["main"]["wall"]
    print(f"CPU during the {r['main']['connections']}-connection run ({wall:.1f} s wall, {os.cpu_count()} cores = "
          f"{wall * (os.cpu_count() or 1):.0f} core-s): gunicorn {cpu['gunicorn']:.1f} s, PostgreSQL backends "
          f"{cpu['postgres']:.1f} s, client {cpu['client']:.1f} s")
    print(f"per registration: {1000 * cpu['gunicorn'] / max(1, r['main']['ok']):.1f} ms app CPU, "
          f"{1000 * cpu['postgres'] / max(1, r['main']['ok']):.1f} ms database CPU")
    print("PostgreSQL connections of the app, average number busy per state (sampled every 20 ms): "
          + "; ".join(f"{k} {v:.2f}" for k, v in r["main"]["waits"]))
    if r["main"]["blocked"]:
        print("  statements waiting on a lock: " + "; ".join(f"{k!r} {v:.2f}" for k, v in r["main"]["blocked"]))
    warm_err = sum(r["warmup"]["errors"].values())
    print(f"server-side errors logged by gunicorn over all phases: {r['main']['server_errors']} "
          f"{dict(r['main']['server_error_kinds']) or ''}; warm-up ({r['warmup']['requests']} requests on "
          f"{r['warmup']['connections']} connections to a fresh server): {warm_err} errors "
          f"{dict(r['warmup']['errors']) if warm_err else ''}")
    print(f"incidents stored {r['stored']} = 201 answers {sent}: {'yes' if r['stored'] == sent else 'NO'}; "
          f"{r['workers']} gunicorn workers, {r['pg_backends']} PostgreSQL connections at the end")
    print(f"server: {r['cmd']}", flush=True)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.register_api", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--serial", type=int, default=300, help="requests over one connection first")
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args(argv)
    return run_on_scratch_database(run, report, args)


if __name__ == "__main__":
    main()
