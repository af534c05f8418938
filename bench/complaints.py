"""12315 intake: complaint submissions per second and latency through the real server, PostgreSQL, surge watch on.

The layout is the deployed one (deploy/gunicorn.conf.py, README "Production layout"): two
server instances of one gunicorn worker each (gthread), with the clients spread over both as
nginx would spread them; YINGJI_PROXY_HOPS=1, and every request carries its own client address
in X-Forwarded-For (the public are many addresses behind the proxy), so the per-address and
per-phone rate limits are checked and counted in PostgreSQL on every request, as in production.
A third process runs the 12315 scheduler jobs (app/scheduler.add_complaint_jobs on an APScheduler,
as `flask scheduler` runs them once wired): the intake digest every 10 s and the surge watch
every `--surge-every` seconds (default 5, twelve times as often as deployed). Five per cent of
the complaints name one restaurant, so that the watch opens a surge and proposes an incident
during the run. Phases: warm-up (not counted), one connection (latency without queueing), the
measured run over several keep-alive connections. Client, servers, watch and PostgreSQL share
the same 2 cores; the CPU each used is printed.

    python -m bench.complaints [--requests 6000] [--connections 12] [--serial 300] [--surge-every 5]
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import re
import resource
import sys
import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import text

from bench.common import (
    ROOT,
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
    wait_for_line,
    wait_http,
)
from bench.register_api import WaitSampler

HOST = "127.0.0.1"
PHASE_TIMEOUT = 300.0
CATEGORIES = ("food", "catering", "drugs", "cosmetics", "prices", "metrology", "online_shopping", "product_quality",
              "other")
TOWNS = ("城关镇", "青年路街道", "东风路街道", "韩寺镇", "官渡镇", "白沙镇", "郑庵镇", "大孟镇")
HOT = "张记烧烤"  # the restaurant the surge is about
WATCH_READY = "complaint watch running"
WATCH_RUN = re.compile(r"watch-run (\w+) ([0-9.]+) ms opened=(\d+) proposed=(\d+)")


def payload(i: int, rng: random.Random) -> bytes:
    """A complete complaint: a distinct phone; 5 % about the hot restaurant, the rest over 2,000 businesses."""
    hot = rng.random() < 0.05
    town = rng.choice(TOWNS)
    return json.dumps({
        "kind": "complaint" if rng.random() < 0.9 else "tipoff", "name": f"压测{i}", "phone": f"13{i % 10}{i:08d}"[:11],
        "address": f"中牟县{town}{rng.randint(1, 300)}号", "business_name": HOT if hot else f"压测商户{rng.randint(1, 2000)}",
        "business_address": f"中牟县{'城关镇人民路1号' if hot else town + str(rng.randint(1, 500)) + '号'}",
        "category": "catering" if hot else rng.choice(CATEGORIES), "purchased_at": "2026-11-20",
        "amount": f"{rng.randint(1, 2000)}.{rng.randint(0, 99):02d}", "order_no": f"B{i:010d}",
        "description": "压测：购买后发现商品质量问题，与商家协商未果，请求处理。" * 3, "demand": "refund",
    }, ensure_ascii=False).encode("utf-8")


def load(ports: list[int], *, requests: int, connections: int, first: int, seed: int) -> dict:
    """POST `requests` complaints over `connections` keep-alive connections spread over the ports."""
    rng = random.Random(seed)
    bodies = [payload(first + i, rng) for i in range(requests)]  # built before the clock starts
    lock = threading.Lock()
    state = {"next": 0}
    results: list[tuple[object, float, float]] = []
    end = time.monotonic() + PHASE_TIMEOUT

    def worker(port: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine = []
        while time.monotonic() < end:
            with lock:
                i = state["next"]
                if i >= requests:
                    break
                state["next"] += 1
            n = first + i
            headers = {"Content-Type": "application/json", "Connection": "keep-alive",
                       "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}"}
            t = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/complaints", body=bodies[i], headers=headers)
                resp = conn.getresponse()
                resp.read()
                status: object = resp.status
                if resp.getheader("Connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
            mine.append((status, time.perf_counter() - t, time.monotonic()))
        conn.close()
        with lock:
            results.extend(mine)

    cycle = itertools.cycle(ports)
    threads = [threading.Thread(target=worker, args=(next(cycle),), name=f"client-{k}") for k in range(connections)]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=PHASE_TIMEOUT + 60)
    wall = time.perf_counter() - t0
    ok = [lat for status, lat, _ in results if status == 201]
    return {"requests": len(results), "connections": connections, "wall": wall, "ok": len(ok),
            "rps": len(ok) / wall if wall else 0.0, "latency": stats(lat for _, lat, _ in results),
            "errors": Counter(str(s) for s, _, _ in results if s != 201)}


def run(url: str, children: Children, args) -> dict:
    """Start the servers and the watch on the scratch database, run the phases, collect what happened."""
    env = app_env(url, children.workdir, YINGJI_PROXY_HOPS="1", YINGJI_THREADS=str(args.threads),
                  YINGJI_LOG_LEVEL="warning")
    servers, ports = [], []
    for k in range(args.instances):
        port = free_port()
        log = children.workdir / f"gunicorn-{k}.log"
        proc = children.start(tool("gunicorn") + ["-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                              env={**env, "YINGJI_BIND": f"{HOST}:{port}",
                                   "YINGJI_CONTROL_SOCKET": str(children.workdir / f"gunicorn-{port}.ctl")}, log=log)
        servers.append(proc)
        ports.append(port)
    watch_log = children.workdir / "watch.log"
    watch = children.start([sys.executable, "-m", "bench.complaints", "--watch-process",
                            "--surge-every", str(args.surge_every)], env=env, log=watch_log)
    for proc, port in zip(servers, ports):
        wait_http(port, proc, "/api/v1/openapi.json", timeout=40)
    if wait_for_line(watch_log, WATCH_READY, timeout=40, proc=watch) is None:
        raise RuntimeError(f"the watch process did not start:\n{watch_log.read_text()[-3000:]}")
    engine = app_engine(url)
    try:
        warm = load(ports, requests=args.warmup, connections=args.connections, first=0, seed=1)
        serial = load(ports, requests=args.serial, connections=1, first=args.warmup, seed=2)
        workers = [w for p in servers for w in children_of(p.pid)]
        with engine.connect() as conn:
            backends = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                         "AND pid <> pg_backend_pid()")).scalars().all()
        watch_log_start = watch_log.stat().st_size
        sampler = WaitSampler(engine)
        sampler.start()
        pids = BackendPids(engine)
        pids.start()
        cpu0 = (cpu_seconds(workers + [p.pid for p in servers]), _machine_cpu(), _self_cpu(),
                cpu_seconds([watch.pid]))
        main = load(ports, requests=args.requests, connections=args.connections,
                    first=args.warmup + args.serial, seed=3)
        cpu1 = (cpu_seconds(workers + [p.pid for p in servers]), _machine_cpu(), _self_cpu(),
                cpu_seconds([watch.pid]))
        sampler.stop()
        pids.stop()
        main["backends_seen"] = len(pids.seen - set(backends))
        # Let the watch see the whole run once more before counting what it did.
        time.sleep(args.surge_every + 2)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT count(*) FROM complaints")).scalar_one()
            limits = conn.execute(text("SELECT count(*) FROM complaint_limits")).scalar_one()
            surges = conn.execute(text("SELECT dimension, label, count, action, incident_id FROM surges "
                                       "ORDER BY id")).all()
            incidents = conn.execute(text("SELECT number, title, level, status FROM incidents ORDER BY id")).all()
            chained = conn.execute(text("SELECT count(*) FROM complaints WHERE chained_at IS NOT NULL")).scalar_one()
            buckets = conn.execute(text("SELECT count(*) FROM rate_buckets")).scalar_one()
    finally:
        engine.dispose()
        for proc in servers + [watch]:
            children.stop(proc)
    runs = [(m.group(1), float(m.group(2)), int(m.group(3)), int(m.group(4)))
            for m in WATCH_RUN.finditer(watch_log.read_text(errors="replace")[watch_log_start:])]
    main["waits"] = sampler.top()
    main["blocked"] = [(k, v / max(1, sampler.samples)) for k, v in sampler.blocked.most_common(3)]
    logs = "".join((children.workdir / f"gunicorn-{k}.log").read_text(errors="replace") for k in range(len(servers)))
    main["server_errors"] = logs.count("Traceback")
    cpu = {"gunicorn": cpu1[0] - cpu0[0], "client": cpu1[2] - cpu0[2], "watch": cpu1[3] - cpu0[3]}
    # Whatever else ran on the machine: PostgreSQL, and the other work sharing it (see the load average).
    cpu["rest"] = max(0.0, (cpu1[1] - cpu0[1]) - sum(cpu.values()))
    main["cpu"] = cpu
    return {"warmup": warm, "serial": serial, "main": main, "stored": stored, "limits": limits, "surges": surges,
            "incidents": incidents, "chained": chained, "buckets": buckets, "watch_runs": runs,
            "watch_errors": watch_log.read_text(errors="replace").count("Traceback"), "instances": len(servers),
            "workers": len(workers)}


class BackendPids(WaitSampler):
    """Every PostgreSQL backend process of the database seen during the run (a new one is a new connection)."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.seen: set[int] = set()

    def _run(self) -> None:
        with self.engine.connect() as conn:
            while not self._stop.is_set() and self.samples < 20_000:
                self.seen.update(conn.execute(text(
                    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid()")).scalars())
                conn.rollback()
                self.samples += 1
                self._stop.wait(0.01)


def _machine_cpu() -> float:
    """Return the CPU seconds (user + system) the whole machine has spent, from /proc/stat."""
    fields = open("/proc/stat").readline().split()[1:]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, _idle, _iowait, irq, softirq = (int(x) for x in fields[:7])
    return (user + nice + system + irq + softirq) / tick


def _self_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def report(r: dict, args) -> None:
    """Print the summary block."""
    banner(f"12315 INTAKE — POST /api/v1/complaints, {r['instances']} × gunicorn -c deploy/gunicorn.conf.py "
           f"(1 worker, {args.threads} threads each), PostgreSQL, surge watch every {args.surge_every} s, "
           f"{os.cpu_count()} cores shared by client, servers, watch and database")
    sent = r["warmup"]["ok"] + r["serial"]["ok"] + r["main"]["ok"]
    for name in ("serial", "main"):
        p = r[name]
        lat = p["latency"]
        print(f"{p['connections']} connection(s), {p['requests']} requests in {p['wall']:.1f} s: "
              f"{p['rps']:.1f} complaints/s; latency p50 {lat.p50 * 1000:.1f} ms, p90 {lat.p90 * 1000:.1f} ms, "
              f"p99 {lat.p99 * 1000:.1f} ms, max {lat.max * 1000:.1f} ms; errors {sum(p['errors'].values())}"
              f"{' ' + str(dict(p['errors'])) if p['errors'] else ''}")
    main = r["main"]
    target_rps, target_p99 = 300, 0.300
    met = main["rps"] >= target_rps and main["latency"].p99 <= target_p99
    print(f"target ≥ {target_rps}/s and p99 ≤ {target_p99 * 1000:.0f} ms: {'met' if met else 'NOT met'}")
    cpu, wall = main["cpu"], main["wall"]
    print(f"CPU during the measured run ({wall:.1f} s wall, {os.cpu_count()} cores = {wall * (os.cpu_count() or 1):.0f}"
          f" core-s): servers {cpu['gunicorn']:.1f} s, client {cpu['client']:.1f} s, watch {cpu['watch']:.1f} s, "
          f"the rest (PostgreSQL and other work on the machine) {cpu['rest']:.1f} s")
    ok = max(1, main["ok"])
    print(f"per complaint: {1000 * cpu['gunicorn'] / ok:.2f} ms server CPU, {1000 * cpu['client'] / ok:.2f} ms "
          f"client CPU, {1000 * cpu['rest'] / ok:.2f} ms the rest; new PostgreSQL connections opened during the run: "
          f"{main['backends_seen']}")
    print("PostgreSQL connections, average number busy per state (sampled every 20 ms): "
          + "; ".join(f"{k} {v:.2f}" for k, v in main["waits"]))
    if main["blocked"]:
        print("  statements waiting on a lock: " + "; ".join(f"{k!r} {v:.2f}" for k, v in main["blocked"]))
    runs = r["watch_runs"]
    for job in sorted({j for j, *_ in runs}):
        times = stats(ms for j, ms, *_ in runs if j == job)
        print(f"watch job {job}: {times.n} runs during the measured run, duration p50 {times.p50:.0f} ms, "
              f"max {times.max:.0f} ms")
    print(f"complaints stored {r['stored']} = 201 answers {sent}: {'yes' if r['stored'] == sent else 'NO'}; "
          f"limit rows {r['limits']}; chained into the audit trail {r['chained']}; rate counters {r['buckets']}")
    for dimension, label, count, action, incident_id in r["surges"]:
        print(f"surge: {dimension} {label!r} {count} complaints → {action} incident {incident_id}")
    for number, title, level, status in r["incidents"]:
        print(f"incident {number} {level} {status}: {title}")
    print(f"server tracebacks: {main['server_errors']}; watch tracebacks: {r['watch_errors']}", flush=True)


def watch_process(args) -> None:
    """Run the 12315 scheduler jobs in this process, as `flask scheduler` would (child of the benchmark)."""
    import logging

    from apscheduler.schedulers.blocking import BlockingScheduler

    from app import create_app, scheduler
    from app.jobs import complaints as complaint_jobs
    from app.push import use_external_emitter

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = create_app()
    use_external_emitter(app)
    scheduler.SURGE_EVERY = timedelta(seconds=args.surge_every)
    scheduler.INTAKE_EVERY = timedelta(seconds=10)

    def timed(name, fn):
        def wrapped(wiring):
            t = time.perf_counter()
            result = fn(wiring)
            opened = len(getattr(result, "opened", []) or [])
            proposed = len(getattr(result, "proposed", []) or [])
            print(f"watch-run {name} {(time.perf_counter() - t) * 1000:.1f} ms opened={opened} proposed={proposed}",
                  flush=True)
            return result
        return wrapped

    complaint_jobs.surge_watch = timed("surge", complaint_jobs.surge_watch)
    complaint_jobs.intake_digest = timed("digest", complaint_jobs.intake_digest)
    sched = BlockingScheduler(timezone="UTC")
    scheduler.add_complaint_jobs(sched, app)
    print(WATCH_READY, flush=True)
    sched.start()


def main(argv: list[str] | None = None) -> dict | None:
    """Run the benchmark (or, with --watch-process, be its watch process)."""
    parser = argparse.ArgumentParser(prog="python -m bench.complaints", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--connections", type=int, default=12)
    parser.add_argument("--serial", type=int, default=300, help="requests over one connection first")
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--instances", type=int, default=2, help="server instances (1 gunicorn worker each)")
    parser.add_argument("--threads", type=int, default=16, help="threads per instance (YINGJI_THREADS)")
    parser.add_argument("--surge-every", type=float, default=5.0, help="seconds between surge-watch runs")
    parser.add_argument("--watch-process", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.watch_process:
        watch_process(args)
        return None
    return run_on_scratch_database(run, report, args)


if __name__ == "__main__":
    main()
