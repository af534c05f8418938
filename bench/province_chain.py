"""Reports up the chain 县局 → 市局 → 省局 across seven Yingji processes: hop latency, throughput, CPU.

The topology of tests/province.py: a province bureau (henan), two city bureaus (zhengzhou, luoyang), four
county bureaus (zhongmou, xinzheng; yanshi, mengjin), each a `flask --app wsgi serve` process on 127.0.0.1
with its own scratch PostgreSQL database (or SQLite file with --sqlite), its own plan extending a shipped
one and its own key, set up with `flask db upgrade`, `flask users create`, `flask peers key` and `flask
peers add` (in this process through Flask's CLI runner by default; --commands subprocess runs each as a
`flask` child process). Each sends with its in-process scheduler every --dispatch-every seconds (the
default, 1 s, is the product's DISPATCH_EVERY).

What goes through: --reports bureau reports from the counties (a quarter each, paced at --rate per second
in all, 2 by default; each is a new event registered by the county leader, who files the bureau report: signed off by
filing it, so it is queued at once). Every report that arrives at a city is signed for (签收) by the city
office, and the city leader files the city's own bureau report on the incident it opened, which goes to
the province, whose office signs for it. So each report crosses both hops and each 签收 travels back on
both; the driver plays the offices and leaders (a thread per receiving bureau polls its inbox every
0.25 s and hands what arrived to four threads, so that the people are not the bottleneck).

Measured from the bureaus' rows after the run (every time is a row the bureaus wrote, on one machine's
clock): hop latency = the sender's sign-off (the document's signed_at, sent as sent_at) → the
receiver's received_at; "sender knows" = sign-off → the sender's recipient.delivered_at (the answer is
back); receipt round trip = the receiver's 签收 (receipt_at) → its receipt dispatch answered by the
sender (done_at); end to end = county sign-off → province received_at, which includes the driver's
signing-for and filing at the city. Throughput per hop over the measured run. CPU seconds of each server
process over the run, gross and net of what it spends idling (its scheduler) and answering the driver's
inbox polls (measured for 20 s before the reports start), and of the PostgreSQL backends of the seven
databases (those connected at the end). One report per county goes through first as a warm-up (fonts,
connections) and is not counted.

    python -m bench.province_chain [--reports 1000] [--rate 2] [--dispatch-every 1.0] [--wake on|off] [--sqlite]
"""
from __future__ import annotations

import argparse
import os
import resource
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bench.common import ADMIN_URL, ROOT, banner, cpu_seconds, machine, stats, utcnow
from incidents.models import Dispatch, InboundReport, Report, ReportDocument, ReportRecipient
from tests.province import TOPOLOGY, Chain, login_of

COUNTIES = [s.code for s in TOPOLOGY if s.tier == "county"]
CITIES = [s.code for s in TOPOLOGY if s.tier == "city"]
PROVINCE = next(s.code for s in TOPOLOGY if s.tier == "province")
PARENT = {s.code: s.parent for s in TOPOLOGY}
POLL = 0.25  # seconds between the driver's looks at an inbox
HANDLERS = 4  # people at each receiving bureau handling what arrived, at once
BASELINE = 20.0  # seconds of CPU measured with nothing moving, to net out idling and polling


@contextmanager
def databases(sqlite: bool, folder: Path) -> Iterator[dict[str, str]]:
    """Yield an empty database per bureau (scratch PostgreSQL databases, dropped at the end, or SQLite files)."""
    if sqlite:
        yield {s.code: f"sqlite:///{folder / s.code / 'yingji.db'}" for s in TOPOLOGY}
        return
    tag = secrets.token_hex(4)
    names = {s.code: f"yingji_bench_{tag}_{s.code}" for s in TOPOLOGY}
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    made = []
    try:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                made.append(name)
        print(f"scratch databases yingji_bench_{tag}_*", flush=True)
        base = ADMIN_URL.rsplit("/", 1)[0]
        yield {code: f"{base}/{name}" for code, name in names.items()}
    finally:
        with admin.connect() as conn:
            for name in made:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"dropped {len(made)} databases", flush=True)


def postgres_cpu(urls: dict[str, str]) -> dict[int, float]:
    """Return the CPU seconds so far of each PostgreSQL backend connected to the bureaus' databases (none on SQLite)."""
    names = [u.rsplit("/", 1)[1] for u in urls.values() if u.startswith("postgresql")]
    if not names:
        return {}
    admin = create_engine(ADMIN_URL, poolclass=NullPool)
    try:
        with admin.connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = ANY(:n)"), {"n": names}).scalars()
            return {pid: cpu_seconds([pid]) for pid in pids}
    finally:
        admin.dispose()


EVENT = {"category": "food_poisoning", "location": "某镇某学校食堂", "source": "县医院急诊科电话报告",
         "nature": "集体性食物中毒", "scope": "师生约30人出现腹痛、呕吐", "trend": "新增病例减少",
         "measures_taken": "封存留样食品，暂停食堂供餐", "casualties": "30人就医，无死亡", "level": "II",
         "level_reason": "30人就医，属重大食物中毒"}


class Driver:
    """The people of the chain: county leaders filing, city offices and leaders passing reports on, the
    province office signing for them. Threads; every loop is bounded by `deadline`."""

    def __init__(self, chain: Chain, deadline: float) -> None:
        self.chain, self.deadline = chain, deadline
        self.errors: list[str] = []
        self.filed = 0
        self.behind = []  # seconds a county filing started after its slot
        self.lock = threading.Lock()
        self.stop = threading.Event()

    def _guard(self, what: str, fn, *args) -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001 - a benchmark reports its errors and keeps the others going
            with self.lock:
                self.errors.append(f"{what}: {exc}")

    def county(self, code: str, slots: list[float], tag: str) -> None:
        leader = self.chain[code].api(login_of(code, "leader"))
        station = self.chain[code].spec.stations[0][0] if self.chain[code].spec.stations else "chengguan"
        for n, at in enumerate(slots):
            wait = at - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if time.monotonic() > self.deadline or self.stop.is_set():
                return
            self.behind.append(max(0.0, -wait))
            incident = leader.post("/incidents", {**EVENT, "title": f"某学校食堂疑似食物中毒（{tag}{code}-{n}）",
                                                  "station": station,
                                                  "discovered_at": (utcnow() - timedelta(minutes=5)).isoformat()})
            leader.post(f"/incidents/{incident['id']}/reports", {"kind": "bureau", "body": f"关于{code}第{n}起事件的报告"})
            with self.lock:
                self.filed += 1

    def _receive(self, code: str, handle) -> None:
        """Watch a bureau's inbox; hand each report not yet signed for to a pool of HANDLERS people."""
        office = self.chain[code].api(login_of(code, "office"))
        taken: set[int] = set()
        people = threading.local()

        def api(role: str):
            if not hasattr(people, role):
                setattr(people, role, self.chain[code].api(login_of(code, role)))
            return getattr(people, role)

        with ThreadPoolExecutor(HANDLERS, thread_name_prefix=f"driver-{code}") as pool:
            while not self.stop.is_set() and time.monotonic() < self.deadline:
                fresh = [r for r in office.get("/inbox?pending=1")["inbound"] if r["id"] not in taken]
                for row in fresh:
                    taken.add(row["id"])
                    pool.submit(self._guard, f"{code} inbound {row['id']}", handle, api, row)
                if not fresh:
                    time.sleep(POLL)

    @staticmethod
    def _pass_on(api, row: dict) -> None:
        """A city: the office signs for the county's report, the leader files the city's own bureau report."""
        api("office").post(f"/inbox/{row['id']}/sign-for")
        api("leader").post(f"/incidents/{row['incident_id']}/reports",
                           {"kind": "bureau", "body": f"转报{row['sender_name']}{row['document_number']}"})

    @staticmethod
    def _sign_for(api, row: dict) -> None:
        """The province: the office signs for the city's report."""
        api("office").post(f"/inbox/{row['id']}/sign-for")

    def city(self, code: str) -> None:
        self._receive(code, self._pass_on)

    def province(self) -> None:
        self._receive(PROVINCE, self._sign_for)

    def start_receivers(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._guard, args=(f"city {c}", self.city, c), daemon=True) for c in CITIES]
        threads.append(threading.Thread(target=self._guard, args=("province", self.province), daemon=True))
        for t in threads:
            t.start()
        return threads

    def start_counties(self, reports: int, rate: float, tag: str) -> list[threading.Thread]:
        t0 = time.monotonic() + 0.5
        slots = {c: [] for c in COUNTIES}
        for i in range(reports):
            slots[COUNTIES[i % len(COUNTIES)]].append(t0 + i / rate)
        threads = [threading.Thread(target=self._guard, args=(f"county {c}", self.county, c, slots[c], tag), daemon=True)
                   for c in COUNTIES]
        for t in threads:
            t.start()
        return threads


class Rows:
    """What the bureaus wrote, read from their databases after the run (ids above the warm-up's)."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.engines = {code: create_engine(url, poolclass=NullPool) for code, url in urls.items()}

    def close(self) -> None:
        for e in self.engines.values():
            e.dispose()

    def marks(self) -> dict[str, tuple[int, int]]:
        """Return, per bureau, the highest inbound id and report id so far (what the warm-up left)."""
        out = {}
        for code, engine in self.engines.items():
            with Session(engine) as s:
                out[code] = (s.scalar(select(InboundReport.id).order_by(InboundReport.id.desc()).limit(1)) or 0,
                             s.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) or 0)
        return out

    def inbound(self, code: str, after: int) -> list[InboundReport]:
        with Session(self.engines[code]) as s:
            return list(s.scalars(select(InboundReport).where(InboundReport.id > after)))

    def signed_for(self, code: str, after: int) -> int:
        return sum(1 for r in self.inbound(code, after) if r.receipt_at is not None)

    def receipts_back(self, code: str, recipient: str, after: int) -> int:
        with Session(self.engines[code]) as s:
            return len(s.scalars(select(ReportRecipient.id).where(ReportRecipient.code == recipient,
                                                                  ReportRecipient.report_id > after,
                                                                  ReportRecipient.receipt_at.is_not(None))).all())

    def sent(self, code: str, recipient: str, after: int) -> list[tuple]:
        """(signed_at, delivered_at, receipt_at, attempts) of the reports a bureau sent to a recipient."""
        with Session(self.engines[code]) as s:
            return list(s.execute(
                select(ReportDocument.signed_at, ReportRecipient.delivered_at, ReportRecipient.receipt_at,
                       Dispatch.attempts)
                .join(ReportDocument, ReportDocument.report_id == ReportRecipient.report_id)
                .join(Dispatch, Dispatch.recipient_id == ReportRecipient.id)
                .where(ReportRecipient.code == recipient, ReportRecipient.report_id > after)).all())

    def receipts(self, code: str, after: int) -> list[tuple]:
        """(receipt_at, done_at, attempts) of the 签收 a bureau sent back."""
        with Session(self.engines[code]) as s:
            return list(s.execute(select(InboundReport.receipt_at, Dispatch.done_at, Dispatch.attempts)
                                  .join(Dispatch, Dispatch.inbound_id == InboundReport.id)
                                  .where(Dispatch.kind == "receipt", InboundReport.id > after)).all())

    def forwarded(self, code: str, after: int) -> dict[str, object]:
        """City report uid → the county sign-off of the report it passed on (for end to end)."""
        with Session(self.engines[code]) as s:
            first = {}
            for incident_id, sent_at in s.execute(select(InboundReport.incident_id, InboundReport.sent_at)
                                                  .order_by(InboundReport.id)):
                first.setdefault(incident_id, sent_at)
            return {f"{code}:{rid}": first.get(iid) for rid, iid in
                    s.execute(select(Report.id, Report.incident_id).where(Report.kind == "bureau", Report.id > after))}


def seconds(pairs) -> list[float]:
    return [(b - a).total_seconds() for a, b in pairs if a is not None and b is not None]


def wait_done(rows: Rows, marks: dict, expected: int, deadline: float, driver: Driver) -> bool:
    """Wait until the province signed for every report and every receipt is back on both hops."""
    while time.monotonic() < deadline:
        got = (rows.signed_for(PROVINCE, marks[PROVINCE][0]),
               sum(rows.receipts_back(c, "city_bureau", marks[c][1]) for c in COUNTIES),
               sum(rows.receipts_back(c, "province_bureau", marks[c][1]) for c in CITIES))
        if min(got) >= expected:
            return True
        if driver.errors:
            return False
        time.sleep(1.0)
    return False


def run(args) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="yingji-bench-chain-"))
    settings = {"DISPATCH_EVERY": str(args.dispatch_every), "DISPATCH_WAKE": "1" if args.wake == "on" else "0",
                "DISPATCH_RETRY_FIRST": "1", "DISPATCH_RETRY_MAX": "5", "SCHEDULER_INTERVAL": "0.5"}
    with databases(args.sqlite, folder) as urls:
        chain = Chain(folder, lambda spec, home: urls[spec.code], settings=settings, commands=args.commands)
        rows = Rows(urls)
        try:
            t = time.monotonic()
            chain.set_up()
            print(f"set up seven bureaus in {time.monotonic() - t:.1f} s ({args.commands} commands)", flush=True)
            t = time.monotonic()
            chain.serve_all()
            print(f"seven servers answering after {time.monotonic() - t:.1f} s", flush=True)
            # Warm-up: one report per county all the way up and back.
            driver = Driver(chain, time.monotonic() + 180)
            receivers = driver.start_receivers()
            for th in driver.start_counties(len(COUNTIES), 4.0, "预热"):
                th.join()
            zero = {c: (0, 0) for c in chain.bureaus}
            if not wait_done(rows, zero, len(COUNTIES), time.monotonic() + 120, driver):
                raise RuntimeError(f"warm-up did not finish: {driver.errors}\n{chain.tail(chars=2000)}")
            driver.stop.set()
            for th in receivers:
                th.join(10)
            marks = rows.marks()
            pids = chain.pids()

            def cpu_now() -> dict[str, float]:
                return {c: cpu_seconds([p]) for c, p in pids.items()}

            # Baseline: the schedulers idling and the driver looking at the inboxes, no report moving.
            budget = BASELINE + args.reports / args.rate + args.timeout
            driver = Driver(chain, time.monotonic() + budget)
            receivers = driver.start_receivers()
            cpu_b, t_b = cpu_now(), time.monotonic()
            time.sleep(BASELINE)
            idle = {c: (v - cpu_b[c]) / (time.monotonic() - t_b) for c, v in cpu_now().items()}
            # The measured run.
            cpu0, pg0 = cpu_now(), postgres_cpu(urls)
            self0 = resource.getrusage(resource.RUSAGE_SELF)
            load0 = open("/proc/loadavg").read().split()[:3]
            started, began = time.monotonic(), utcnow()
            counties = driver.start_counties(args.reports, args.rate, "")
            done = wait_done(rows, marks, args.reports, time.monotonic() + budget, driver)
            elapsed = time.monotonic() - started
            cpu = {c: v - cpu0[c] for c, v in cpu_now().items()}
            pg1 = postgres_cpu(urls)
            self1 = resource.getrusage(resource.RUSAGE_SELF)
            driver.stop.set()
            for th in counties + receivers:
                th.join(15)
            load1 = open("/proc/loadavg").read().split()[:3]
            result = collect(rows, marks, args)
            result.update(done=done, elapsed=elapsed, began=began, filed=driver.filed, errors=driver.errors,
                          behind=stats(driver.behind), cpu=cpu, idle=idle, load=(load0, load1),
                          pg_cpu=sum(v - pg0.get(pid, 0.0) for pid, v in pg1.items()), pg_backends=len(pg1),
                          driver_cpu=(self1.ru_utime + self1.ru_stime) - (self0.ru_utime + self0.ru_stime))
            if not done:
                print(chain.tail(chars=3000))
            return result
        finally:
            chain.close()
            rows.close()
            if os.environ.get("BENCH_KEEP_LOGS"):
                print(f"logs kept in {folder}", flush=True)
            else:
                shutil.rmtree(folder, ignore_errors=True)


def collect(rows: Rows, marks: dict, args) -> dict:
    """Read every hop's times from the bureaus' rows."""
    hop1_in = [r for c in CITIES for r in rows.inbound(c, marks[c][0])]
    hop2_in = rows.inbound(PROVINCE, marks[PROVINCE][0])
    hop1_sent = [x for c in COUNTIES for x in rows.sent(c, "city_bureau", marks[c][1])]
    hop2_sent = [x for c in CITIES for x in rows.sent(c, "province_bureau", marks[c][1])]
    hop1_receipts = [x for c in CITIES for x in rows.receipts(c, marks[c][0])]
    hop2_receipts = rows.receipts(PROVINCE, marks[PROVINCE][0])
    origin = {}
    for c in CITIES:
        origin.update(rows.forwarded(c, marks[c][1]))
    end_to_end = [(origin.get(r.report_uid), r.received_at) for r in hop2_in]

    def span(received) -> float:
        times = sorted(received)
        return (times[-1] - times[0]).total_seconds() if len(times) > 1 else float("nan")

    return {
        "hops": {
            "county → city": {
                "latency": stats(seconds((r.sent_at, r.received_at) for r in hop1_in)),
                "sender_knows": stats(seconds((s, d) for s, d, _, _ in hop1_sent)),
                "receipt": stats(seconds((a, d) for a, d, _ in hop1_receipts)),
                "attempts": sorted({a for *_, a in hop1_sent} | {a for *_, a in hop1_receipts}),
                "n": len(hop1_in), "rate": len(hop1_in) / span(r.received_at for r in hop1_in)},
            "city → province": {
                "latency": stats(seconds((r.sent_at, r.received_at) for r in hop2_in)),
                "sender_knows": stats(seconds((s, d) for s, d, _, _ in hop2_sent)),
                "receipt": stats(seconds((a, d) for a, d, _ in hop2_receipts)),
                "attempts": sorted({a for *_, a in hop2_sent} | {a for *_, a in hop2_receipts}),
                "n": len(hop2_in), "rate": len(hop2_in) / span(r.received_at for r in hop2_in)}},
        "end_to_end": stats(seconds(end_to_end)),
        "duplicates": (len(hop1_in) - len({(r.sender, r.report_uid) for r in hop1_in}))
        + (len(hop2_in) - len({(r.sender, r.report_uid) for r in hop2_in})),
    }


def report(result: dict, args) -> None:
    banner(f"province chain: {args.reports} reports county → city → province, offered {args.rate}/s, "
           f"DISPATCH_EVERY {args.dispatch_every} s, wake-up {args.wake}, {'SQLite' if args.sqlite else 'PostgreSQL'}")
    print(f"run began {result['began']:%Y-%m-%d %H:%M:%S} UTC; load average {' '.join(result['load'][0])} at the "
          f"start, {' '.join(result['load'][1])} at the end")
    print(f"finished: {'yes' if result['done'] else 'NO (timed out)'} after {result['elapsed']:.1f} s; county reports "
          f"filed {result['filed']}; a filing started late by p50 {result['behind'].p50:.3f} s, max "
          f"{result['behind'].max:.3f} s; duplicates {result['duplicates']}; errors {len(result['errors'])}")
    for e in result["errors"][:5]:
        print("  error:", e[:300])
    for hop, h in result["hops"].items():
        print(f"\n{hop}: {h['n']} reports, {h['rate']:.2f} received/s; attempts per dispatch {h['attempts']}")
        print(f"  sign-off → received_at     {h['latency'].row()} s")
        print(f"  sign-off → sender knows    {h['sender_knows'].row()} s")
        print(f"  签收 → receipt at sender   {h['receipt'].row()} s")
    print(f"\nend to end, county sign-off → province received_at (with the driver's 签收 and filing at the city):\n"
          f"  {result['end_to_end'].row()} s")
    total = sum(result["cpu"].values())
    idle = {c: r * result["elapsed"] for c, r in result["idle"].items()}
    net = {c: result["cpu"][c] - idle[c] for c in result["cpu"]}
    n = max(1, result["hops"]["county → city"]["n"])
    print(f"\nCPU seconds of each server over the run ({result['elapsed']:.0f} s): "
          + ", ".join(f"{c} {v:.1f}" for c, v in result["cpu"].items()))
    print(f"  of which idling and answering the driver's inbox polls (measured for {BASELINE:.0f} s before, "
          f"{POLL} s polls): " + ", ".join(f"{c} {v:.1f}" for c, v in idle.items()))
    print("  net per report: " + ", ".join(f"{c} {1000 * v / n * share(c):.0f} ms" for c, v in net.items())
          + " (each bureau per report it handled)")
    print(f"  servers {total:.1f} s gross, {sum(net.values()):.1f} s net = {1000 * sum(net.values()) / n:.0f} ms per "
          f"report through the chain; PostgreSQL backends ({result['pg_backends']}) {result['pg_cpu']:.1f} s; "
          f"driver (this process) {result['driver_cpu']:.1f} s")


def share(code: str) -> float:
    """Return how many of all the reports a bureau handled, inverted (a county files a quarter, a city half)."""
    return {"county": len(COUNTIES), "city": len(CITIES), "province": 1}[next(s.tier for s in TOPOLOGY if s.code == code)]


def commit() -> str:
    """Return the commit the code runs at (marked when the tree has changes)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}{' with uncommitted changes' if dirty else ''}" if head else "unknown"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.province_chain", description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="county reports per second offered, in all")
    parser.add_argument("--dispatch-every", type=float, default=1.0, help="DISPATCH_EVERY of every bureau")
    parser.add_argument("--wake", choices=("on", "off"), default="on",
                        help="DISPATCH_WAKE: send at once after a commit that queued something")
    parser.add_argument("--sqlite", action="store_true", help="SQLite files instead of PostgreSQL databases")
    parser.add_argument("--commands", choices=("inprocess", "subprocess"), default="inprocess")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds allowed beyond reports/rate")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}; code: {commit()}", flush=True)
    result = run(args)
    report(result, args)
    return result


if __name__ == "__main__":
    main()
