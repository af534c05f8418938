"""Scheduler killed mid-escalation: after a restart exactly the messages still due go out.

Real `flask --app wsgi scheduler` processes run on the test database (SQLite and PostgreSQL)
and send through the real twilio SDK to the Twilio stub, which runs in this process. The plan
is the seed plan with chains that wait seconds instead of minutes (tests/escalation_plans.py):
board at once, SMS to the duty officer after 2 s, a call to them after 5 s, a call to the
department head after 7 s. Processes die by SIGKILL, as in a power cut or an OOM kill.

What "exactly" means (incidents/escalation/walk.py): a step tells each person once, and a
delivery that a process had handed to the provider but not yet recorded when it died is
marked `unknown` after the send lease and never sent again. So every delivery that came due
went out exactly once, except those marked `unknown`, which went out at most once.

The first two tests control the moment of the kill and hold the stub to strict expectations
(anything missing, repeated or unexpected fails). The third kills one of two concurrent
schedulers at random moments under load; there the moment decides whether a message was cut
off, so it counts every request against the delivery rows instead.

Waits are bounded (PROCESS_TIMEOUT); they are limits on waiting for processes, not timing
assertions.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from incidents.response import assignments, service
from incidents.people import duty
from incidents.kernel.clock import SystemClock
from incidents.escalation import SEND_LEASE
from incidents.models import ESC_EXHAUSTED, Delivery, Escalation, User
from notifiers import registry
from notifiers.escalation import Walker
from notifiers.twilio import voice_twiml
from tests.conftest import repo_root
from tests.escalation_plans import SECONDS_CHAIN, write_derived_plan
from tests.helpers import incident_payload
from tests.timed_stub import TimedStub

PROCESS_TIMEOUT = 60.0  # seconds; a bound on waiting for the processes, not on a deadline
READY = "scheduler running"  # echoed by `flask scheduler` just before APScheduler starts
INTERVAL = "0.1"
VOICE_ACTION = "http://127.0.0.1:9/hooks/twilio/voice"  # only written into the TwiML (ref=delivery id)
# Short throttle window: in the many-escalations test, messages to one phone are held and
# bundled within seconds instead of 15 minutes, so that path runs under the kills too.
DELIVERY = {"throttle_window": "PT4S", "max_sms": 3, "max_calls": 3, "retry_after": ["PT1S", "PT2S"]}
STEP_AFTER = [int(after[2:-1]) for after, _, _ in SECONDS_CHAIN]  # seconds after the start, per step
OUT_OK = ("queued", "sent", "delivered")  # what record_results keeps for an accepted message
TITLE = "冷库中毒"  # short: a bundle of ten items still lists every code
TASK = re.compile(r"核查K(\d{3})")
# The item number stands in brackets ("[A12]"); a random reply code may itself start with A and a digit.
CODE = re.compile(r"\[A(\d+)\]")
REPLY = re.compile(r"(?<![0-9A-Za-z])([A-Z0-9]{4})(?![0-9A-Za-z])")


def officer_phone(i: int) -> str:
    return f"+861390001{i:04d}"


def head_phone(i: int) -> str:
    return f"+861390002{i:04d}"


# --- the app in this process: the wall clock, the plan with seconds --------------------------

@pytest.fixture
def clock():
    """The wall clock: the scheduler processes read it too (overrides the fake clock)."""
    return SystemClock()


@pytest.fixture
def plan_file(tmp_path) -> Path:
    path = tmp_path / "plan-seconds.yaml"
    write_derived_plan(path, steps=SECONDS_CHAIN, delivery=DELIVERY, tag="seconds")
    return path


@pytest.fixture
def app(db_url, clock, plan_file):
    """The app on the test database with the plan whose chains wait seconds."""
    application = create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                              "SCHEDULER": "off", "PLAN_FILE": str(plan_file)})
    yield application
    application.extensions["yingji"].engine.dispose()


@pytest.fixture
def stub():
    s = TimedStub().start()
    yield s
    s.release()
    s.stop()


# --- scheduler processes -----------------------------------------------------------------------

class Schedulers:
    """`flask --app wsgi scheduler` processes by slot, each start with its own log."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env, self.folder = env, folder
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: list[Path] = []
        self.kills = 0

    def start(self, slot: str) -> subprocess.Popen:
        log = self.folder / f"scheduler-{slot}-{len(self.logs)}.log"
        self.logs.append(log)
        with open(log, "ab") as out:
            proc = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "scheduler"], cwd=repo_root(),
                                    env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self.procs[slot] = proc
        end = time.monotonic() + PROCESS_TIMEOUT
        while READY not in log.read_text(errors="replace"):
            if proc.poll() is not None or time.monotonic() > end:
                pytest.fail(f"scheduler {slot} did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.02)
        return proc

    def kill(self, slot: str) -> None:
        """SIGKILL the process of a slot, by its id, and reap it."""
        proc = self.procs.pop(slot)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills += 1
        proc.wait(10)

    def close(self) -> None:
        for slot in list(self.procs):
            self.kill(slot)

    def failed_ticks(self) -> int:
        return sum(log.read_text(errors="replace").count("scheduler tick failed") for log in self.logs)

    def tail(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}" for log in self.logs[-3:])


@pytest.fixture
def schedulers(db_url, plan_file, stub, tmp_path):
    env = {**os.environ, "DATABASE_URL": db_url, "PLAN_FILE": str(plan_file), "SCHEDULER_INTERVAL": INTERVAL,
           "YINGJI_INSTANCE": str(tmp_path), "SECRET_KEY": "test", "PYTHONUNBUFFERED": "1",
           "ESCALATION_WORKERS": "4", "TWILIO_VOICE_ACTION": VOICE_ACTION, "SOCKETIO_MESSAGE_QUEUE": ""}
    env.update({k: str(v) for k, v in stub.settings(TWILIO_TIMEOUT=20).items()})
    procs = Schedulers(env, tmp_path)
    try:
        yield procs
    finally:
        procs.close()


# --- the bureau: duty officers, heads, an incident, assignments --------------------------------

class Bureau:
    """Departments with a duty officer on shift and a head (each with a phone), and one incident."""

    def __init__(self, wiring, make_user, departments: list[str]) -> None:
        self.wiring = wiring
        self.departments = departments
        self.office = make_user("office", "office")
        for i, code in enumerate(departments):
            make_user("department_head", code, head_phone(i))
        now = wiring.clock.now()
        with wiring.sessions() as session:
            office = session.get(User, self.office.id)
            for i, code in enumerate(departments):
                duty.add_shift(session, wiring.plan, department=code, starts_at=now - timedelta(hours=1),
                               ends_at=now + timedelta(hours=6), officer_name=f"值班员{i}", phone=officer_phone(i),
                               actor=office, now=now)
            body = incident_payload(title=TITLE, station=None)
            facts = service.NewIncident(**{k: body[k] for k in ("title", "category", "location", "station", "source",
                                                               "nature", "scope", "trend", "measures_taken",
                                                               "casualties")},
                                        discovered_at=now, level="I", level_reason="测试")
            self.incident_id = service.register_incident(session, wiring.plan, facts=facts, actor=office,
                                                         now=now).id
            session.commit()

    def assign(self, department: str, n: int) -> tuple[int, int, datetime]:
        """Assign task number n to a department; return (assignment id, escalation id, started at)."""
        with self.wiring.sessions() as session:
            office = session.get(User, self.office.id)
            row = assignments.assign(session, incident_id=self.incident_id, department=department,
                                     task=f"派员核查K{n:03d}", actor=office, now=self.wiring.clock.now())
            session.commit()
            esc = session.scalar(select(Escalation).where(Escalation.assignment_id == row.id))
            assert esc is not None and esc.chain["steps"][1]["after"] == 2, "the plan with seconds is not in force"
            return row.id, esc.id, esc.started_at

    def phones(self, department: str) -> tuple[str, str]:
        i = self.departments.index(department)
        return officer_phone(i), head_phone(i)


def rows(wiring, model, *where) -> list:
    with wiring.sessions() as session:
        return list(session.scalars(select(model).where(*where).order_by(model.id)))


def step_status(wiring, escalation_id: int, step: int) -> list[str]:
    return [d.status for d in rows(wiring, Delivery, Delivery.escalation_id == escalation_id, Delivery.step == step)]


def settled(wiring, escalation_id: int, *, steps: tuple[int, ...]) -> bool:
    """Tell whether the escalation has stopped running and these steps' deliveries are past sending."""
    (esc,) = rows(wiring, Escalation, Escalation.id == escalation_id)
    statuses = [step_status(wiring, escalation_id, n) for n in steps]
    return esc.status != "running" and all(s and not set(s) & {"pending", "held", "sending"} for s in statuses)


def wait_for(predicate, what: str, procs: Schedulers) -> None:
    """Poll until the predicate holds; fail (with the schedulers' logs) after PROCESS_TIMEOUT."""
    end = time.monotonic() + PROCESS_TIMEOUT
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"waited {PROCESS_TIMEOUT:.0f} s for {what}\n{procs.tail()}")
        time.sleep(0.05)


def sleep_until(moment: datetime) -> None:
    time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()))


def later_cycle(wiring, stub) -> Walker:
    """A scheduler cycle run as if one send lease (plus a second) from now: it expires what was cut off."""
    settings = registry.settings_from(stub.settings(TWILIO_VOICE_ACTION=VOICE_ACTION))
    return Walker(wiring.sessions, lambda kind: registry.build(kind, settings), rules=lambda: wiring.plan.delivery,
                  clock=lambda: datetime.now(timezone.utc) + SEND_LEASE + timedelta(seconds=1), workers=1)


# --- 1. killed after the SMS, down while the calls came due -------------------------------------

def test_killed_after_the_sms_the_calls_that_came_due_while_down_go_out_once(wiring, make_user, stub, schedulers):
    bureau = Bureau(wiring, make_user, ["food_coord"])
    officer, head = bureau.phones("food_coord")
    schedulers.start("A")
    aid, esc_id, t0 = bureau.assign("food_coord", 1)
    stub.expect_sms(officer, f"[A{aid}]")

    wait_for(lambda: step_status(wiring, esc_id, 1) == ["queued"], "the SMS to be sent and recorded", schedulers)
    schedulers.kill("A")
    assert datetime.now(timezone.utc) < t0 + timedelta(seconds=STEP_AFTER[2]), "killed too late to test the story"
    assert [d.step for d in rows(wiring, Delivery, Delivery.escalation_id == esc_id)] == [0, 1], \
        "the call must not have been fired before the kill"
    assert stub.problems() == []  # the SMS, once, and nothing else

    # Both calls come due while no scheduler runs; the restarted one owes exactly those two.
    sleep_until(t0 + timedelta(seconds=STEP_AFTER[3], milliseconds=300))
    stub.expect_call(officer, "派员核查K001")
    stub.expect_call(head, "派员核查K001")
    schedulers.start("B")
    wait_for(lambda: settled(wiring, esc_id, steps=(2, 3)), "the chain to run out and its calls to settle", schedulers)
    time.sleep(1.0)  # ten more cycles: a resend would show
    schedulers.kill("B")
    stub.check()

    (esc,) = rows(wiring, Escalation, Escalation.id == esc_id)
    assert esc.status == ESC_EXHAUSTED
    deliveries = rows(wiring, Delivery, Delivery.escalation_id == esc_id)
    assert [(d.step, d.channel, d.phone, d.status) for d in deliveries] == [
        (0, "board", None, "delivered"), (1, "sms", officer, "queued"),
        (2, "voice", officer, "queued"), (3, "voice", head, "queued")]
    assert sorted(d.provider_id for d in deliveries[1:]) == sorted(r.sid for r in stub.sent())
    assert schedulers.failed_ticks() == 0


# --- 2. killed while the provider had the SMS but had not answered --------------------------------

def test_killed_between_handing_over_and_recording_the_sms_is_never_resent(wiring, make_user, stub, schedulers):
    bureau = Bureau(wiring, make_user, ["food_coord"])
    officer, head = bureau.phones("food_coord")
    stub.hold(officer)  # the SMS reaches the stub; its answer does not reach the sender
    schedulers.start("A")
    aid, esc_id, t0 = bureau.assign("food_coord", 1)
    stub.expect_sms(officer, f"[A{aid}]")

    wait_for(lambda: any(r.to == officer for r in stub.sent()), "the SMS to reach the provider", schedulers)
    schedulers.kill("A")
    stub.release()
    (sms,) = rows(wiring, Delivery, Delivery.escalation_id == esc_id, Delivery.step == 1)
    assert sms.status == "sending" and sms.provider_id is None and sms.attempts == 1

    stub.expect_call(officer, "派员核查K001")
    stub.expect_call(head, "派员核查K001")
    schedulers.start("B")
    wait_for(lambda: settled(wiring, esc_id, steps=(2, 3)), "the chain to run out and its calls to settle", schedulers)
    time.sleep(1.0)
    schedulers.kill("B")
    # The restarted scheduler sent the calls on time but left the cut-off SMS alone.
    assert [step_status(wiring, esc_id, n) for n in (1, 2, 3)] == [["sending"], ["queued"], ["queued"]]
    stub.check()

    # Once the send lease has passed, a cycle marks it unknown and sends nothing.
    walker = later_cycle(wiring, stub)
    try:
        assert walker.cycle() == 0
    finally:
        walker.close()
    (sms,) = rows(wiring, Delivery, Delivery.escalation_id == esc_id, Delivery.step == 1)
    assert sms.status == "unknown" and sms.sent_at == sms.claimed_at and "不重发" in sms.error_message
    (esc,) = rows(wiring, Escalation, Escalation.id == esc_id)
    assert esc.status == ESC_EXHAUSTED
    stub.check()  # and still exactly the SMS and the two calls
    assert schedulers.failed_ticks() == 0


# --- 3. many escalations, two schedulers, kill -9 at random ---------------------------------------

DEPARTMENTS = ["food_coord", "drugs", "metrology", "online"]
N_ASSIGNMENTS = 40
KILLS = 5


@dataclass
class Item:
    aid: int
    escalation_id: int
    started_at: datetime
    department: str


def _names(content: str, task_of: dict[int, int], reply_of: dict[str, int]) -> set[int]:
    """Return the assignments a message names: by number ([A12]), reply code (a bundle) or task (calls)."""
    return ({int(x) for x in CODE.findall(content)} | {task_of.get(int(x), -1) for x in TASK.findall(content)}
            | {reply_of[x] for x in REPLY.findall(content) if x in reply_of})


def test_two_schedulers_killed_at_random_send_every_due_message_once(wiring, make_user, stub, schedulers):
    seed = int(os.environ.get("ESCALATION_KILL_SEED") or time.time_ns() % 1_000_000)
    rng, latency = random.Random(seed), random.Random(seed + 1)
    stub.latency = lambda: latency.uniform(0.0, 0.08)  # a provider takes a while: kills land mid-send
    bureau = Bureau(wiring, make_user, DEPARTMENTS)
    schedulers.start("A")
    schedulers.start("B")

    items: dict[int, Item] = {}
    task_of: dict[int, int] = {}
    errors: list[BaseException] = []

    def create() -> None:
        try:
            for n in range(1, N_ASSIGNMENTS + 1):
                department = DEPARTMENTS[n % len(DEPARTMENTS)]
                aid, esc_id, started = bureau.assign(department, n)
                items[aid] = Item(aid, esc_id, started, department)
                task_of[n] = aid
                time.sleep(0.075)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    creator = threading.Thread(target=create, name="assign")
    creator.start()
    kills = []
    for _ in range(KILLS):
        time.sleep(rng.uniform(0.2, 1.5))
        victim = rng.choice("AB")
        sending = len(rows(wiring, Delivery, Delivery.status == "sending"))
        schedulers.kill(victim)
        kills.append(f"{victim} ({sending} sending)")
        schedulers.start(victim)
    creator.join(PROCESS_TIMEOUT)
    assert not errors and not creator.is_alive(), errors
    context = f"seed {seed}; kills {kills}"

    def finished() -> bool:
        open_ = rows(wiring, Escalation, Escalation.status != ESC_EXHAUSTED)
        waiting = rows(wiring, Delivery, Delivery.status.in_(("pending", "held")))
        return not open_ and not waiting

    wait_for(finished, f"every escalation to run its chain ({context})", schedulers)
    time.sleep(1.0)  # ten more cycles of each: a resend would show
    schedulers.close()
    walker = later_cycle(wiring, stub)  # one send lease later: what was cut off becomes unknown
    try:
        assert walker.cycle() == 0, context
    finally:
        walker.close()

    problems = account(wiring, stub, bureau, items, task_of)
    unknown = [d for d in rows(wiring, Delivery) if d.status == "unknown"]
    print(f"{context}; {len(stub.sent())} messages; {len(unknown)} deliveries cut off (unknown); "
          f"failed ticks {schedulers.failed_ticks()}")
    assert not problems, f"{context}\n" + "\n".join(problems[:40])


def account(wiring, stub, bureau: Bureau, items: dict[int, Item], task_of: dict[int, int]) -> list[str]:
    """Check every escalation, delivery and request against each other; return what is wrong."""
    problems: list[str] = []
    escalations = {e.id: e for e in rows(wiring, Escalation)}
    deliveries = rows(wiring, Delivery)
    by_id = {d.id: d for d in deliveries}
    sent = stub.sent()

    # Nothing forgotten: every escalation ran its whole chain, one delivery per step and person.
    assert sorted(escalations) == sorted(i.escalation_id for i in items.values())
    expected: dict[tuple[int, int], tuple[str, str | None]] = {}
    for item in items.values():
        officer, head = bureau.phones(item.department)
        esc = escalations[item.escalation_id]
        if esc.status != ESC_EXHAUSTED:
            problems.append(f"escalation A{item.aid} is {esc.status}, not exhausted")
        expected.update({(esc.id, 0): ("board", None), (esc.id, 1): ("sms", officer), (esc.id, 2): ("voice", officer),
                         (esc.id, 3): ("voice", head)})
    got = Counter((d.escalation_id, d.step) for d in deliveries)
    for key, (channel, phone) in expected.items():
        if got[key] != 1:
            problems.append(f"escalation {key[0]} step {key[1]}: {got[key]} deliveries, not 1")
    for d in deliveries:
        want = expected.get((d.escalation_id, d.step))
        if d.purpose != "alert" or want is None or want != (d.channel, d.phone):
            problems.append(f"delivery {d.id} not in any chain: {d.purpose} {d.channel} {d.phone} step {d.step}")
        elif d.channel == "board" and d.status != "delivered":
            problems.append(f"board delivery {d.id} is {d.status}")

    # Every request the provider got is one carrier's message, by its sid or (cut off) its content.
    def same(r, d: Delivery) -> bool:
        if r.to != d.phone or r.kind != d.channel:
            return False
        if d.channel == "sms":
            return r.params.get("Body") == d.content
        return r.params.get("Twiml") == voice_twiml(d.content, action=VOICE_ACTION, reference=str(d.id))

    carriers = [d for d in deliveries if d.channel in ("sms", "voice") and d.bundle_id is None]
    by_sid = {r.sid: r for r in sent}
    recorded = {d.provider_id for d in carriers if d.provider_id}
    requests_of: dict[int, list] = {}
    for d in carriers:
        if d.status in OUT_OK:
            r = by_sid.get(d.provider_id)
            requests_of[d.id] = [r] if r is not None and same(r, d) else []
            if not requests_of[d.id]:
                problems.append(f"delivery {d.id} recorded as {d.status} {d.provider_id}, but no such message")
        elif d.status == "unknown":
            requests_of[d.id] = [r for r in sent if r.sid not in recorded and same(r, d)]
        else:
            problems.append(f"delivery {d.id} ({d.channel} step {d.step}) left {d.status}")
    claimed = Counter(id(r) for rs in requests_of.values() for r in rs)
    for r in sent:
        if claimed[id(r)] != 1:
            problems.append(f"message {r.sid} to {r.to} accounted {claimed[id(r)]} times: {r.content[:80]!r}")

    # Per (escalation, step, person): out exactly once, or at most once when cut off (unknown).
    for d in deliveries:
        if d.channel == "board":
            continue
        carrier = by_id[d.bundle_id] if d.bundle_id else d
        if d.bundle_id and d.status != "bundled":
            problems.append(f"delivery {d.id} in bundle {d.bundle_id} is {d.status}")
        n = len(requests_of.get(carrier.id, []))
        if carrier.status == "unknown" and n > 1 or carrier.status in OUT_OK and n != 1:
            problems.append(f"delivery {d.id} ({d.channel} step {d.step} to {d.phone}) went out {n} times "
                            f"(carrier {carrier.id} {carrier.status})")
        due = escalations[d.escalation_id].started_at + timedelta(seconds=STEP_AFTER[d.step])
        for r in requests_of.get(carrier.id, []):
            if r.received_at < due.timestamp() - 0.001:
                problems.append(f"delivery {d.id} went out {due.timestamp() - r.received_at:.3f} s before its step")

    # The recipients' view, from the message texts alone: nobody heard of an item twice on one channel.
    heard = Counter()
    reply_of = {e.reply_code: e.assignment_id for e in escalations.values() if e.reply_code}
    for r in sent:
        for aid in _names(r.content, task_of, reply_of):
            heard[(r.to, r.kind, aid)] += 1
    cut_off = {(d.phone, d.channel, escalations[d.escalation_id].assignment_id) for d in deliveries
               if d.channel != "board" and (by_id[d.bundle_id] if d.bundle_id else d).status == "unknown"}
    for item in items.values():
        officer, head = bureau.phones(item.department)
        for key in ((officer, "sms", item.aid), (officer, "voice", item.aid), (head, "voice", item.aid)):
            n = heard.pop(key, 0)
            if n > 1 or (n == 0 and key not in cut_off):
                problems.append(f"{key[0]} heard of A{item.aid} by {key[1]} {n} times")
    for key, n in heard.items():
        problems.append(f"{key[0]} heard of unknown item {key[2]} by {key[1]} {n} times")
    return problems
