"""Shared pieces of the benchmarks: scratch databases, seeding, child processes, statistics.

Nothing here is collected by pytest (testpaths = tests) and nothing here asserts: the
benchmarks print numbers. Every child process is started in its own session and is
killed by its id when the benchmark ends, whatever happens.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.audit_keys import AuditKeyring, keyring_from  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from incidents.kernel.db import Base, make_engine  # noqa: E402
from incidents.response.deadlines import fire_points, first_stage  # noqa: E402
from incidents.models import Deadline, Incident, User  # noqa: E402
from incidents.plan import DEFAULT_PLAN_FILE, Plan, load_plan_file  # noqa: E402
from incidents.response.service import stored_plan_version  # noqa: E402

ADMIN_URL = (os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_PG_URL")
             or "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Every table the app has: a run on an emptied database starts from nothing (escalations, board events…).
TABLES = tuple(t.name for t in Base.metadata.sorted_tables)
BIN = Path(sys.executable).parent


def utcnow() -> datetime:
    """Return the wall-clock time, aware, in UTC."""
    return datetime.now(timezone.utc)


def machine() -> str:
    """Describe the machine the numbers come from."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {sys.version.split()[0]}, {pg_version()}"


def pg_version() -> str:
    """Return the PostgreSQL server version string, short."""
    engine = create_engine(ADMIN_URL, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return "PostgreSQL " + conn.execute(text("SHOW server_version")).scalar_one().split()[0]
    finally:
        engine.dispose()


# --- scratch database ------------------------------------------------------------


@contextmanager
def scratch_database() -> Iterator[str]:
    """Create yingji_bench_<random>, migrate it to head, yield its URL, drop it at the end."""
    name = f"yingji_bench_{secrets.token_hex(5)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    print(f"scratch database {name}", flush=True)
    try:
        upgrade(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
        print(f"dropped {name}", flush=True)


def reset_database(engine: Engine) -> None:
    """Empty every table of a scratch database (audit rows too: TRUNCATE fires no row trigger)."""
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))


def analyze(engine: Engine) -> None:
    """Refresh the planner's statistics after a bulk insert, as autovacuum would soon do."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE deadlines"))
        conn.execute(text("ANALYZE incidents"))


# --- seeding -----------------------------------------------------------------------


@dataclass
class Seed:
    """The rows every seeded incident points at."""

    plan: Plan
    user_id: int
    plan_version_id: int
    clock_name: str
    counter: int = 0


def seed_base(engine: Engine) -> Seed:
    """Store the plan version and one office user, as registration would find them."""
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    now = utcnow()
    with Session(engine) as session:
        pv = stored_plan_version(session, plan, now)
        user = User(name="bench-seed", login=f"bench-seed-{secrets.token_hex(3)}", role="office", unit="office",
                    active=True, created_at=now)
        session.add(user)
        session.commit()
        return Seed(plan=plan, user_id=user.id, plan_version_id=pv.id, clock_name=plan.clock("initial_report").name)


@dataclass(frozen=True)
class Clock:
    """One clock to seed: its start, its due point and its warnings (seconds before due)."""

    starts_at: datetime
    due_at: datetime
    warn_before: tuple[int, ...] = ()


def insert_clocks(conn: Connection, seed: Seed, clocks: Sequence[Clock], *, now: datetime) -> list[int]:
    """Insert one food-poisoning incident per clock, and its initial-report deadline; return deadline ids.

    Bulk inserts (executemany with insertmanyvalues), timed as incidents.response.clock_rows._time would.
    """
    incidents = []
    for c in clocks:
        seed.counter += 1
        incidents.append({
            "number": f"YJ2026-B{seed.counter:06d}", "title": "压测事件:某学校食堂疑似食物中毒",
            "category": "food_poisoning", "level": None, "status": "registered", "lead_department": "food_coord",
            "station": "chengguan", "discovered_at": c.starts_at, "location": "城关镇某中学食堂",
            "source": "压测", "nature": "集体性食物中毒", "scope": "约20人", "trend": "平稳",
            "measures_taken": "封存留样食品", "casualties": "无死亡", "plan_version_id": seed.plan_version_id,
            "created_by_id": seed.user_id, "created_at": now,
        })
    table = Incident.__table__
    ids = conn.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), incidents).scalars().all()
    rows = []
    for incident_id, c in zip(ids, clocks):
        points = fire_points(c.starts_at, c.due_at, c.warn_before)
        stage = first_stage(points, now)
        rows.append({
            "incident_id": incident_id, "kind": "initial_report", "cycle": 0, "name": seed.clock_name,
            "department": None, "station": "chengguan", "starts_at": c.starts_at, "due_at": c.due_at,
            "status": "pending", "warn_before": list(c.warn_before), "fire_stage": stage,
            "next_fire_at": points[stage], "timing_version": 1, "created_at": now,
        })
    dtable = Deadline.__table__
    return conn.execute(insert(dtable).returning(dtable.c.id, sort_by_parameter_order=True), rows).scalars().all()


# --- child processes ------------------------------------------------------------------


def tool(name: str) -> list[str]:
    """Return the command of a console script of this venv (flask, gunicorn)."""
    path = BIN / name
    if path.exists():
        return [str(path)]
    found = shutil.which(name)
    if found:
        return [found]
    return [sys.executable, "-m", name]


def audit_key(workdir: Path) -> str:
    """Return the audit key every process of this run shares (made once, by the benchmark itself)."""
    path = workdir / "audit_key"
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def audit_keyring(workdir: Path) -> AuditKeyring:
    """Return the keyring that verifies the audit chain the run's processes wrote."""
    return keyring_from({"AUDIT_KEY": audit_key(workdir)})


def app_env(url: str, workdir: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a Yingji process on the scratch database."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": url, "SCHEDULER": "off", "SCHEDULER_INTERVAL": "1.0", "YINGJI_INSTANCE": str(workdir),
        "AUDIT_KEY": audit_key(workdir),
        "SECRET_KEY": "bench-" + secrets.token_hex(16), "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


class Children:
    """The processes a benchmark started; `close` kills every one still alive, by its id."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []
        self.workdir = Path(tempfile.mkdtemp(prefix="yingji-bench-"))

    def start(self, args: list[str], *, env: dict[str, str], log: Path) -> subprocess.Popen:
        """Start a process in its own session, stdout and stderr appended to `log`."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append(proc)
        return proc

    def kill9(self, proc: subprocess.Popen) -> None:
        """SIGKILL one process (not its group: a scheduler has no children) and reap it."""
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, proc: subprocess.Popen, timeout: float = 15.0) -> None:
        """SIGTERM a process and wait; SIGKILL its process group if it does not go."""
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        self._kill_group(proc)

    def _kill_group(self, proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the group started with this process, by its id
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def close(self) -> None:
        """Kill whatever is left and remove the work folder."""
        for proc in self.procs:
            self._kill_group(proc)
        if os.environ.get("BENCH_KEEP_LOGS"):
            print(f"logs kept in {self.workdir}", flush=True)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)


def wait_for_line(path: Path, needle: str, *, timeout: float, proc: subprocess.Popen | None = None,
                  start: int = 0) -> float | None:
    """Wait until `needle` appears in the file after byte `start`; return when, or None."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            data = path.read_bytes()[start:]
        except FileNotFoundError:
            data = b""
        if needle.encode() in data:
            return time.monotonic()
        if proc is not None and proc.poll() is not None:
            return None
        time.sleep(0.02)
    return None


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pids: Iterable[int]) -> float:
    """Return user+system CPU seconds used so far by these processes (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except (OSError, IndexError, ValueError):
            pass
    return total


def children_of(pid: int) -> list[int]:
    """Return the direct children of a process (from /proc)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


# --- logs of the scheduler ----------------------------------------------------------

LOG_TIME = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})"
NOTICE = re.compile(LOG_TIME + r" WARNING yingji\.notify \[(\w+) → [^\]]*\] 【(?:超时|预警)】(\S+) ")
READY = "scheduler running"  # echoed by `flask scheduler` just before APScheduler starts


def log_time(stamp: str) -> datetime:
    """Parse a logging asctime (local time of this machine) as an aware time."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").astimezone()


@dataclass
class SchedulerLog:
    """What the scheduler processes wrote: deliveries and problems.

    APScheduler's own INFO lines (each run of the job) are silenced by `flask scheduler`,
    so tick durations are derived from the firings instead (see `tick_durations`).
    """

    notices: list[tuple[datetime, str, str]]  # (logged at, warning|overdue, incident number)
    skipped: int  # "maximum number of running instances reached": a tick overran the interval
    missed: int  # "was missed by"
    failed: int  # "scheduler tick failed" (the exception is in the log)


def read_scheduler_logs(paths: Iterable[Path]) -> SchedulerLog:
    """Parse the logs of one or more scheduler processes."""
    notices = []
    skipped = missed = failed = 0
    for path in paths:
        for line in path.read_text(errors="replace").splitlines():
            m = NOTICE.match(line)
            if m:
                notices.append((log_time(m.group(1)), m.group(2), m.group(3)))
            elif "maximum number of running instances reached" in line:
                skipped += 1
            elif "was missed by" in line:
                missed += 1
            elif "scheduler tick failed" in line:
                failed += 1
    return SchedulerLog(notices, skipped, missed, failed)


def tick_durations(events: Iterable[tuple[datetime, str, str]], notices: Iterable[tuple[datetime, str, str]]
                   ) -> tuple[list[int], list[float]]:
    """Per tick that fired something: how many it fired, and tick start -> last notice of them.

    `events` are (fired_at, kind, incident number); fired_at is the tick's `now`, so the firings
    of one tick share it. Deliveries of a tick that fired more than dispatch_pending's batch
    spill into later ticks, which shows here as a longer duration.
    """
    delivered: dict[tuple[str, str], datetime] = {}
    for at, kind, number in notices:
        if (number, kind) not in delivered or at > delivered[(number, kind)]:
            delivered[(number, kind)] = at
    groups: dict[datetime, list[tuple[str, str]]] = {}
    for fired_at, kind, number in events:
        groups.setdefault(fired_at, []).append((number, kind))
    sizes, spans = [], []
    for fired_at, numbers in groups.items():
        sizes.append(len(numbers))
        last = max((delivered[n] for n in numbers if n in delivered), default=None)
        if last is not None:
            spans.append((last - fired_at).total_seconds())
    return sizes, spans


# --- statistics -----------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], p: float) -> float:
    """Return the p-th percentile (0..100) by linear interpolation between closest ranks."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


@dataclass(frozen=True)
class Stats:
    """Distribution of a sample, in the sample's unit."""

    n: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    def row(self, scale: float = 1.0, digits: int = 3) -> str:
        f = f"{{:.{digits}f}}"
        vals = [self.min, self.p50, self.p90, self.p99, self.max, self.mean]
        return f"n={self.n:<6} " + " ".join(f"{k}={f.format(v * scale)}" for k, v in
                                             zip(("min", "p50", "p90", "p99", "max", "mean"), vals))


def stats(values: Iterable[float]) -> Stats:
    """Summarise a sample."""
    v = sorted(values)
    if not v:
        nan = float("nan")
        return Stats(0, nan, nan, nan, nan, nan, nan)
    return Stats(len(v), v[0], percentile(v, 50), percentile(v, 90), percentile(v, 99), v[-1], sum(v) / len(v))


def banner(title: str) -> None:
    """Print the head of a summary block."""
    print("\n" + "=" * 78)
    print(title)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{utcnow():%Y-%m-%d %H:%M} UTC; {os.cpu_count()} cores; load average {load} (other work on the machine "
          f"shows here)")
    print("=" * 78, flush=True)


def app_engine(url: str) -> Engine:
    """An engine on the scratch database, as the app makes it."""
    return make_engine(url)


def wait_until(predicate, *, timeout: float, every: float = 0.5) -> bool:
    """Poll `predicate` until it is true or the timeout passes (bounded loop)."""
    end = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= end:
            return False
        time.sleep(every)


def run_on_scratch_database(run, report, args):
    """Run a benchmark on a scratch PostgreSQL database, stop its child processes, report, return the result."""
    children = Children()
    try:
        with scratch_database() as url:
            result = run(url, children, args)
    finally:
        children.close()
    report(result, args)
    return result


def wait_http(port: int, proc: subprocess.Popen, path: str, *, timeout: float = 60,
              log: Path | None = None) -> None:
    """Wait until a server child answers GET path on 127.0.0.1:port; raise if it exits or stays silent."""
    import http.client

    def tail() -> str:
        return ":\n" + log.read_text(errors="replace")[-3000:] if log is not None else ""

    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}{tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", path)
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not answer within {timeout} s{tail()}")



class Sampler:
    """A daemon thread that samples the database while a phase runs: `start`, then `stop`; subclasses `_run`."""

    name = "sampler"

    def __init__(self, engine) -> None:
        self.engine = engine
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        raise NotImplementedError
