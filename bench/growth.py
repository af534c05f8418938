"""Growth: the pages and APIs a person uses daily, and the scheduler's tick, on 1 %, 10 % and all of a city's 5 years.

For each scale the benchmark seeds a database with bench.seed (or reuses `yingji_bench_growth_<scale>`
with --reuse, as `python -m bench.seed --scale <scale> --name growth_<scale>` left it), migrates it to
head (so an index migration added since the seeding applies), serves it with
`gunicorn -w 2 --threads 4` as deployed, and times N sequential requests per page from one
keep-alive connection (after one untimed warm-up request): p50 and p95 per page at each scale,
then the ratio of the largest scale to the smallest. PDFs are asked for a different day, week or
period each time, so each one is rendered (a repeat would be served from the stored briefing).
The scheduler's tick (clocks, deliveries, escalation walk) and the complaint jobs are timed
in-process on the same database, as `flask scheduler` runs them.

Targets (issue 17): no page grows more than 1.5x from 1 % to the whole city; p95 <= 200 ms for pages
and APIs, <= 3 s for a PDF, on 2 cores.

    python -m bench.growth [--scales 1,10,city] [--requests 20] [--pdfs 3] [--reuse] [--keep]
"""
from __future__ import annotations

import argparse
import http.client
import os
import time
from datetime import date, timedelta
from functools import partial
from urllib.parse import quote

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bench import seed as seeding
from bench.common import (
    ADMIN_URL,
    Children,
    app_env,
    banner,
    free_port,
    machine,
    stats,
    tool,
    utcnow,
    wait_http,
)
from app.migrate import upgrade

HOST = "127.0.0.1"
PAGE_TARGET, PDF_TARGET, GROWTH_TARGET = 0.200, 3.0, 1.5
AUDIT_VERIFY_TIMEOUT = 1800.0


def database_url(scale: str) -> str:
    """Return the URL of the kept database of a scale, yingji_bench_growth_<scale>."""
    return ADMIN_URL.rsplit("/", 1)[0] + f"/yingji_bench_growth_{scale}"


def seeded(url: str) -> bool:
    """Tell whether the database exists and holds seeded incidents."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return bool(conn.execute(text("SELECT count(*) FROM incidents")).scalar_one())
    except Exception:  # noqa: BLE001 - missing database
        return False
    finally:
        engine.dispose()


def prepare(url: str, keys: dict[str, str], workdir) -> dict:
    """Create the benchmark's users and pick what the pages ask for; return tokens and targets."""
    from app import create_app
    from incidents.people.users import create_user
    from incidents.kernel.actors import SystemActor

    app = create_app({"DATABASE_URL": url, "SCHEDULER": "off", "SECRET_KEY": "growth", **keys,
                      "AUDIT_HEAD_FILE": str(workdir / "audit_heads")})
    wiring = app.extensions["yingji"]
    tokens = {}
    stamp = utcnow().strftime("%H%M%S%f")
    with wiring.sessions() as session:
        for role, unit in (("leader", None), ("office", "office"), ("auditor", None)):
            _, token = create_user(session, wiring.plan, name=f"压测{role}", role=role, unit=unit,
                                   login=f"growth-{role}-{stamp}", now=utcnow(),
                                   actor=SystemActor(name="growth"))
            tokens[role] = token
        session.commit()
        q = lambda sql: session.execute(text(sql)).first()  # noqa: E731
        long_id = q("SELECT incident_id FROM deadlines GROUP BY incident_id ORDER BY count(*) DESC LIMIT 1")[0]
        live_id = q("SELECT id FROM incidents WHERE status = 'active' ORDER BY id LIMIT 1")[0]
        oldest_kept = q("SELECT id, tracking_no FROM complaints WHERE erased_at IS NULL ORDER BY id LIMIT 1")
        rare = q("SELECT business_name FROM complaints WHERE business_name LIKE '%第9__号店' "
                 "GROUP BY business_name ORDER BY count(*), business_name LIMIT 1")
        old = q("SELECT tracking_no FROM complaints ORDER BY id LIMIT 1 OFFSET "
                "(SELECT count(*) / 3 FROM complaints)")
        entries = q("SELECT count(*) FROM audit_entries")[0]
    return {"app": app, "tokens": tokens, "long": long_id, "live": live_id,
            "phone": seeding.phone_of(oldest_kept[0]), "business": rare[0] if rare else "超市第1号店",
            "tracking": old[0], "entries": entries}


def time_ticks(app, n: int) -> dict[str, list[float]]:
    """Time the scheduler's jobs in-process, as `flask scheduler` runs them; return the times per job."""
    from app.jobs import clocks
    from app.jobs import complaints as complaint_jobs
    from notifiers.dispatch import Dispatcher

    wiring = app.extensions["yingji"]
    walker = clocks.walker_for(app)
    jobs = {"scheduler tick": partial(clocks.tick, wiring, Dispatcher(clocks.senders_for(app)), walker=walker,
                                      batch=app.config["SCHEDULER_BATCH"]),
            "complaint limit notices": partial(complaint_jobs.limit_notices, wiring),
            "complaint intake digest": partial(complaint_jobs.intake_digest, wiring),
            "complaint surge watch": partial(complaint_jobs.surge_watch, wiring),
            # Hourly: recount estimated limits, erase personal data past retention, drop old counters.
            "complaint housekeeping (hourly)": partial(complaint_jobs.housekeeping, wiring)}
    out = {}
    for name, job in jobs.items():
        job()  # the first run fires what came due since the seeding; the steady state is timed
        times = []
        for _ in range(n if "hourly" not in name else min(n, 5)):
            t = time.perf_counter()
            job()
            times.append(time.perf_counter() - t)
        out[name] = times
    return out


def pages(t: dict, *, today: date, n_pdf: int) -> list[tuple[str, str, str, list[str]]]:
    """(name, kind, role, paths): one path repeated, or one path per request (PDFs: a new render each)."""
    month = f"from={today - timedelta(days=29)}&to={today}"
    year = f"from={today - timedelta(days=364)}&to={today}"
    api = "/api/v1"
    return [
        ("overview /", "page", "leader", ["/"]),
        ("duty board /duty", "page", "office", ["/duty"]),
        ("duty clocks /duty/clocks", "page", "office", ["/duty/clocks"]),
        ("live incident page", "page", "leader", [f"/incidents/{t['live']}"]),
        ("long incident page", "page", "leader", [f"/incidents/{t['long']}"]),
        ("long incident API", "api", "leader", [f"{api}/incidents/{t['long']}"]),
        ("incidents API", "api", "leader", [f"{api}/incidents"]),
        ("complaints page", "page", "leader", ["/complaints"]),
        ("complaints API", "api", "leader", [f"{api}/complaints"]),
        ("complaints: open", "api", "leader", [f"{api}/complaints?status=open"]),
        ("search by phone", "api", "leader", [f"{api}/complaints?q={t['phone']}"]),
        ("search by business", "api", "leader", [f"{api}/complaints?q={quote(t['business'])}"]),
        ("search by tracking no", "api", "leader", [f"{api}/complaints?q={t['tracking']}"]),
        ("complaint limits API", "api", "leader", [f"{api}/complaint-limits"]),
        ("weekly summary API", "api", "leader", [f"{api}/complaints/summary"]),
        ("accountability month", "page", "leader", [f"/accountability?{month}"]),
        ("accountability year", "page", "leader", [f"/accountability?{year}"]),
        ("accountability API year", "api", "leader",
         [f"{api}/accountability?from={today - timedelta(days=364)}T00:00:00%2B08:00&to={today}T23:59:59%2B08:00"]),
        ("accountability PDF month", "pdf", "leader",
         [f"{api}/accountability.pdf?from={today - timedelta(days=29 + i)}&to={today - timedelta(days=i)}"
          for i in range(n_pdf)]),
        ("accountability PDF year", "pdf", "leader",
         [f"{api}/accountability.pdf?from={today - timedelta(days=364 + i)}&to={today - timedelta(days=i)}"
          for i in range(n_pdf)]),
        ("daily briefing PDF", "pdf", "leader", [f"{api}/reports/daily.pdf?date={today - timedelta(days=1 + i)}"
                                                 for i in range(n_pdf)]),
        ("weekly summary PDF", "pdf", "leader",
         [f"{api}/reports/complaints-weekly.pdf?week={today - timedelta(days=7 * (1 + i))}" for i in range(n_pdf)]),
    ]


def measure(port: int, token: str, paths: list[str], n: int, *, timeout: float = 120.0,
            budget: float = 60.0, at_least: int = 3) -> tuple[list[float], dict]:
    """GET the paths (n requests, after one warm-up of a single path) on one keep-alive connection.

    A page that takes seconds is asked fewer times: the requests stop once `budget` seconds have
    gone, after at least `at_least` (its p95 is then about its slowest).
    """
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    codes: dict = {}

    def get(path: str) -> float:
        nonlocal conn
        t = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            resp.read()
            code: object = resp.status
        except (OSError, http.client.HTTPException) as exc:
            code = type(exc).__name__
            conn.close()
            conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        codes[code] = codes.get(code, 0) + 1
        return time.perf_counter() - t

    if len(paths) == 1:
        get(paths[0])  # warm-up: the first request of a page builds its templates and caches
        codes.clear()
        paths = paths * n
    times: list[float] = []
    end = time.monotonic() + budget
    for path in paths:
        times.append(get(path))
        if len(times) >= at_least and time.monotonic() > end:
            break
    conn.close()
    return times, codes


def run_scale(scale: str, args, children: Children) -> dict:
    """Seed (or reuse) one scale's database, serve it, time every page; return stats per page."""
    url = database_url(scale)
    keys = seeding.bench_keys(args.seed)
    if not (args.reuse and seeded(url)):
        seeding.main(["--scale", scale, "--name", f"growth_{scale}", "--seed", str(args.seed)])
    upgrade(url)
    with create_engine(url, poolclass=NullPool).connect() as conn:
        counts = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
                  for t in ("incidents", "deadlines", "complaints", "audit_entries", "deliveries")}
        size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
    print(f"scale {scale}: {counts}, {size}", flush=True)
    workdir = children.workdir / f"scale-{scale}"
    workdir.mkdir()
    targets = prepare(url, keys, workdir)
    results: dict = {"counts": counts, "size": size, "pages": {}, "codes": {}, "p95": {}}
    for name, times in time_ticks(targets["app"], args.requests).items():
        results["pages"][name], results["p95"][name] = stats(times), percentile95(times)
        print(f"  {name:28} p50 {results['pages'][name].p50 * 1000:8.1f} ms  p95 {results['p95'][name] * 1000:8.1f} ms",
              flush=True)
    env = app_env(url, workdir, **keys, REPORTS_WAIT="600", AUDIT_HEAD_FILE=str(workdir / "audit_heads"))
    port = free_port()
    log = workdir / "gunicorn.log"
    proc = children.start(tool("gunicorn") + ["-w", "2", "--threads", "4", "--timeout", "1900", "-b", f"{HOST}:{port}",
                                              "--control-socket", str(workdir / "gunicorn.ctl"), "wsgi:app"],
                          env=env, log=log)
    try:
        wait_http(port, proc, "/login", timeout=90, log=log)
        today = utcnow().astimezone(targets["app"].extensions["yingji"].plan.tz).date()
        for name, kind, role, paths in pages(targets, today=today, n_pdf=args.pdfs):
            times, codes = measure(port, targets["tokens"][role], paths, args.requests if kind != "pdf" else len(paths),
                                   timeout=900, budget=args.budget, at_least=args.at_least)
            results["pages"][name] = stats(times)
            results["codes"][name] = codes
            s = results["pages"][name]
            print(f"  {name:28} p50 {s.p50 * 1000:8.1f} ms  p95 {percentile95(times) * 1000:8.1f} ms  {codes}",
                  flush=True)
            results["p95"][name] = percentile95(times)
        if targets["entries"] <= args.verify_max or args.verify_all:
            times, codes = measure(port, targets["tokens"]["auditor"], ["/api/v1/audit/verify"], args.verifies,
                                   timeout=AUDIT_VERIFY_TIMEOUT, budget=0)
            results["pages"]["audit verify (whole chain)"] = stats(times)
            results["p95"]["audit verify (whole chain)"] = percentile95(times)
            results["codes"]["audit verify (whole chain)"] = codes
            print(f"  audit verify: {[round(x, 2) for x in times]} s {codes}", flush=True)
    finally:
        children.stop(proc)
    if not args.keep and not args.reuse:
        seeding.drop_database(url)
    return results


def percentile95(values: list[float]) -> float:
    """Return the 95th percentile of a sample."""
    from bench.common import percentile
    return percentile(sorted(values), 95)


def report(all_results: dict[str, dict], scales: list[str]) -> None:
    """Print p50/p95 per page at each scale and the growth of p95 from the smallest scale to the largest."""
    banner("bench.growth: p50 / p95 (ms) per page at each scale; growth = p95 largest / p95 smallest")
    first, last = scales[0], scales[-1]
    names = list(dict.fromkeys(n for s in scales for n in all_results[s]["pages"]))
    print(f"{'page or job':30}" + "".join(f"{'scale ' + s:>22}" for s in scales) + f"{'growth':>10}  target")
    for name in names:
        row = f"{name:30}"
        for s in scales:
            st, p95 = all_results[s]["pages"].get(name), all_results[s]["p95"].get(name)
            row += f"{(f'{st.p50 * 1000:.1f} / {p95 * 1000:.1f}') if st else '-':>22}"
        a, b = all_results[first]["p95"].get(name), all_results[last]["p95"].get(name)
        ratio = b / a if (a and b) else float("nan")
        limit = PDF_TARGET if "PDF" in name else PAGE_TARGET
        verdict = []
        if ratio > GROWTH_TARGET:
            verdict.append(f"grows > {GROWTH_TARGET}x")
        if b is not None and b > limit and "audit" not in name:
            verdict.append(f"p95 > {limit * 1000:.0f} ms")
        row += f"{ratio:>9.2f}x  {', '.join(verdict) or 'met'}"
        print(row)
    for s in scales:
        print(f"scale {s}: {all_results[s]['counts']}, database {all_results[s]['size']}")
    bad = {s: {k: v for k, v in r["codes"].items() if set(v) - {200}} for s, r in all_results.items()}
    print("answers other than 200:", {s: v for s, v in bad.items() if v} or "none")
    print(f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main(argv: list[str] | None = None) -> dict:
    """Time every page at every scale and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,10,city", help="comma-separated bench.seed scales, smallest first")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per page")
    parser.add_argument("--pdfs", type=int, default=3, help="PDFs rendered per kind")
    parser.add_argument("--budget", type=float, default=60.0,
                        help="seconds per page: a slow page stops after this, with at least --at-least requests")
    parser.add_argument("--at-least", type=int, default=3, help="requests per page however slow")
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--reuse", action="store_true", help="use yingji_bench_growth_<scale> if already seeded, keep it")
    parser.add_argument("--keep", action="store_true", help="keep the databases it seeds")
    parser.add_argument("--verifies", type=int, default=3, help="whole-chain audit verifications timed")
    parser.add_argument("--verify-max", type=int, default=1_000_000,
                        help="skip the whole-chain verify above this many entries (it reads them all)")
    parser.add_argument("--verify-all", action="store_true", help="verify whatever the size")
    args = parser.parse_args(argv)
    scales = args.scales.split(",")
    print(f"machine: {machine()}; load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    children = Children()
    results = {}
    try:
        for scale in scales:
            banner(f"bench.growth scale {scale}")
            results[scale] = run_scale(scale, args, children)
    finally:
        children.close()
    report(results, scales)
    return results


if __name__ == "__main__":
    main()
