"""Writers never queue on the chain's head: entries wait in the inbox, signed, and are sealed in batches.

Tampering shows whether an entry is sealed or still waiting: edited, deleted, reordered, truncated.
Verification can start from a checkpoint (an exported head) and then costs only what came after it.
"""
from __future__ import annotations

import re
import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from app import audit_heads
from app.jobs.audit_seal import seal_pending
from app.scheduler import build
from incidents.kernel.actors import SystemActor
from incidents.models import AuditEntry, AuditHead, AuditPending, Incident
from incidents.people.users import create_user
from incidents.records import audit
from incidents.response import incident_view
from tests.test_audit import _register_many
from tests.test_audit import drop_append_only, restore_append_only, story, tamperable  # noqa: F401 - fixtures
from tests.test_board_pages import PASSWORD, page


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def sealed(wiring) -> list[AuditEntry]:
    with wiring.sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def waiting(wiring) -> list[AuditPending]:
    with wiring.sessions() as session:
        return list(session.scalars(select(AuditPending).order_by(AuditPending.id)))


@pytest.fixture
def head_busy(monkeypatch):
    """Every writer finds the chain's head held by another (what contention does), on either database."""
    real = audit._lock_head
    state = {"busy": True}
    monkeypatch.setattr(audit, "_lock_head",
                        lambda session, *, wait: None if state["busy"] and not wait else real(session, wait=wait))

    def release() -> None:
        state["busy"] = False

    return release


def add_user(wiring, clock, name: str) -> None:
    with wiring.sessions() as session:
        create_user(session, wiring.plan, name=name, role="viewer", now=clock.now(), actor=SystemActor(name="tests"))
        session.commit()


# --- the write path ------------------------------------------------------------------------------------------


def test_a_writer_that_finds_the_head_busy_leaves_signed_entries_that_the_sealer_chains(app, wiring, clock, story,
                                                                                         users, head_busy):
    before = sealed(wiring)
    clock.advance(minutes=3)
    r = users["office"].post(f"/api/v1/incidents/{story}/reports", json={"kind": "progress", "body": "续报"})
    assert r.status_code == 201, r.get_json()
    assert [e.seq for e in sealed(wiring)] == [e.seq for e in before]
    left = waiting(wiring)
    assert left and {e.action for e in left} >= {"report.submitted"}
    key = wiring.audit_keys.current
    assert all(e.key_version == key.version and audit.pending_intact(e, wiring.audit_keys) for e in left)
    # A person reading the incident's history sees the waiting entries at once, after the sealed ones.
    trail = users["office"].get(f"/api/v1/incidents/{story}/audit").get_json()["entries"]
    assert [e["seq"] for e in trail[-len(left):]] == [None] * len(left)
    assert [e["action"] for e in trail[-len(left):]] == [e.action for e in left]
    assert all(e["seq"] is not None for e in trail[:-len(left)])
    with wiring.sessions() as session:
        incident = session.get(Incident, story)
        lines = incident_view.timeline(session, incident, wiring.plan, str)
        assert [line["seq"] for line in lines[-len(left):]] == [None] * len(left)
        assert [line["action"] for line in lines] == [e["action"] for e in trail]
    # Waiting entries verify (their HMAC) and are counted.
    result = cli(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"{len(left)} entries waiting to be sealed" in result.output
    head_busy()
    assert seal_pending(wiring) == len(left)
    assert waiting(wiring) == []
    after = sealed(wiring)
    assert [e.seq for e in after] == list(range(1, len(before) + len(left) + 1))
    assert [(e.action, e.entity_id, e.at) for e in after[len(before):]] == [(e.action, e.entity_id, e.at) for e in left]
    with wiring.sessions() as session:
        assert session.get(AuditHead, 1).seq == after[-1].seq
    assert cli(app, "audit", "verify").exit_code == 0


def test_the_next_writer_that_holds_the_head_seals_what_waits_before_its_own(app, wiring, clock, head_busy):
    add_user(wiring, clock, "waits-1")
    add_user(wiring, clock, "waits-2")
    assert len(waiting(wiring)) == 2 and sealed(wiring) == []
    head_busy()
    clock.advance(seconds=1)
    add_user(wiring, clock, "holds")
    assert waiting(wiring) == []
    users_in_chain = [int(e.entity_id) for e in sealed(wiring)]
    assert len(users_in_chain) == 3 and users_in_chain == sorted(users_in_chain)  # the waiting ones first
    assert [e.at for e in sealed(wiring)] == [clock.now() - timedelta(seconds=1)] * 2 + [clock.now()]
    with wiring.sessions() as session:
        assert audit.verify(session).ok


def test_the_sealer_does_nothing_without_waiting_entries_and_is_scheduled_where_writers_can_meet(app, wiring, clock,
                                                                                                   db_url):
    add_user(wiring, clock, "inline")
    assert seal_pending(wiring) == 0
    assert len(sealed(wiring)) == 1
    job = build(app, blocking=False).get_job("yingji-audit-seal")
    if db_url.startswith("sqlite"):
        assert job is None  # one writer at a time: nothing ever waits
    else:
        assert job is not None and job.trigger.interval.total_seconds() <= 0.5


def test_inline_sealing_is_the_old_single_queue_and_an_unknown_mode_is_refused(db_url, clock, tmp_path):
    from app import create_app
    from tests.conftest import TEST_AUDIT_KEY

    config = {"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "t", "SCHEDULER": "off",
              "AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_HEAD_FILE": str(tmp_path / "heads.log")}
    with pytest.raises(ValueError, match="audit sealing must be one of"):
        create_app({**config, "AUDIT_SEALING": "sometimes"})
    application = create_app({**config, "AUDIT_SEALING": "inline"})
    try:
        wiring = application.extensions["yingji"]
        add_user(wiring, clock, "inline")
        assert len(sealed(wiring)) == 1 and waiting(wiring) == []
    finally:
        application.extensions["yingji"].engine.dispose()


def test_a_crash_in_the_middle_of_sealing_rolls_the_batch_back_whole(app, wiring, clock, head_busy, monkeypatch):
    for i in range(5):
        add_user(wiring, clock, f"crash-{i}")
    head_busy()
    before = waiting(wiring)
    assert len(before) == 5
    real = audit._append
    calls = {"n": 0}

    def dies_at_the_fourth(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise OSError("the sealer's process died")
        return real(*args, **kwargs)

    monkeypatch.setattr(audit, "_append", dies_at_the_fourth)
    with pytest.raises(OSError):
        seal_pending(wiring)
    assert sealed(wiring) == []
    assert [e.token for e in waiting(wiring)] == [e.token for e in before]
    monkeypatch.setattr(audit, "_append", real)
    assert seal_pending(wiring) == 5
    assert waiting(wiring) == [] and len(sealed(wiring)) == 5
    assert cli(app, "audit", "verify").exit_code == 0


def test_an_entry_waits_only_if_its_change_commits(app, wiring, clock, head_busy):
    with wiring.sessions() as session:
        create_user(session, wiring.plan, name="rolled-back", role="viewer", now=clock.now(),
                    actor=SystemActor(name="tests"))
        session.rollback()
    add_user(wiring, clock, "kept")
    assert [e.entity for e in waiting(wiring)] == ["user"] and len(waiting(wiring)) == 1


# --- tampering, sealed or waiting ---------------------------------------------------------------------------


def test_an_edited_waiting_entry_is_reported_and_never_sealed(app, wiring, clock, head_busy, tamperable):
    for i in range(3):
        add_user(wiring, clock, f"w{i}")
    edited = waiting(wiring)[1]
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_inbox SET actor = 'leader:someone-else' WHERE id = :i"), {"i": edited.id})
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"BROKEN: waiting entry {edited.id} (not yet sealed) was altered" in result.output
    head_busy()
    assert seal_pending(wiring) == 2
    assert [e.id for e in waiting(wiring)] == [edited.id]  # kept as it is, for whoever investigates
    assert all(e.actor != "leader:someone-else" for e in sealed(wiring))
    assert cli(app, "audit", "verify").exit_code == 1


def test_a_waiting_entry_copied_is_refused_by_the_database(app, wiring, clock, head_busy, tamperable):
    add_user(wiring, clock, "once")
    with pytest.raises(Exception, match="(?i)unique"):
        with tamperable.begin() as conn:
            conn.execute(text("INSERT INTO audit_inbox (token, at, actor_id, actor, action, entity, entity_id, "
                              "incident_id, data, key_version, mac) SELECT token, at, actor_id, actor, action, entity, "
                              "entity_id, incident_id, data, key_version, mac FROM audit_inbox"))


def test_two_entries_swapped_are_detected(app, wiring, story, tamperable):
    a, b = sealed(wiring)[3], sealed(wiring)[6]
    columns = ("at", "actor", "action", "entity", "entity_id", "incident_id", "data", "prev_hash", "hash")
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET hash = 'swapping' WHERE seq = :s"), {"s": a.seq})  # unique
        for mine, theirs in ((b, a), (a, b)):
            conn.execute(text(f"UPDATE audit_entries SET {', '.join(f'{c} = :{c}' for c in columns)} WHERE seq = :seq"),
                         {**{c: getattr(theirs, c) for c in columns}, "seq": mine.seq})
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert re.search(rf"BROKEN: entry {a.seq} ", result.output), result.output
    assert re.search(rf"BROKEN: entry {b.seq} ", result.output), result.output


def test_a_truncated_tail_and_its_head_row_moved_back_are_detected(app, wiring, story, tamperable):
    assert cli(app, "audit", "export-head").exit_code == 0
    entries = sealed(wiring)
    keep = entries[-3]
    with tamperable.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": keep.seq})
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": keep.seq, "h": keep.hash})
    for mode in ("--full", "--from-checkpoint"):
        result = cli(app, "audit", "verify", mode)
        assert result.exit_code == 1, (mode, result.output)
        assert f"entry {entries[-1].seq}" in result.output, (mode, result.output)


# --- checkpoints: a day costs a day -----------------------------------------------------------------------------


def test_verify_from_the_last_checkpoint_checks_only_what_came_after_it(app, wiring, clock, story, users, tamperable):
    assert cli(app, "audit", "export-head").exit_code == 0
    checkpoint = sealed(wiring)[-1].seq
    clock.advance(minutes=5)
    assert users["office"].post(f"/api/v1/incidents/{story}/reports",
                                json={"kind": "progress", "body": "续报"}).status_code == 201
    total = len(sealed(wiring))
    result = cli(app, "audit", "verify", "--from-checkpoint")
    assert result.exit_code == 0, result.output
    assert f"intact: {total - checkpoint} entries (entries {checkpoint + 1}–{total}, after the head exported" \
           in result.output
    # An entry edited after the checkpoint is caught from it; one edited before it needs --full.
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = 'x:y' WHERE seq IN (2, :s)"), {"s": total})
    result = cli(app, "audit", "verify", "--from-checkpoint")
    assert result.exit_code == 1 and f"BROKEN: entry {total} " in result.output, result.output
    assert "entry 2 " not in result.output
    result = cli(app, "audit", "verify", "--full")
    assert "BROKEN: entry 2 " in result.output and f"BROKEN: entry {total} " in result.output, result.output


def test_a_rewritten_checkpoint_entry_is_detected_from_the_checkpoint(app, wiring, story, tamperable):
    assert cli(app, "audit", "export-head").exit_code == 0
    last = sealed(wiring)[-1]
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET hash = :h WHERE seq = :s"), {"h": "f" * 64, "s": last.seq})
    result = cli(app, "audit", "verify", "--from-checkpoint")
    assert result.exit_code == 1
    assert f"BROKEN: entry {last.seq} no longer matches the head exported at" in result.output


def test_verify_since_a_day_starts_at_the_last_head_exported_before_it(app, wiring, clock, story, users, tamperable):
    day1 = sealed(wiring)[-1].seq
    assert cli(app, "audit", "export-head").exit_code == 0  # 2026-11-20, Beijing
    clock.advance(days=1)
    for body in ("次日续报", "次日再报"):
        assert users["office"].post(f"/api/v1/incidents/{story}/reports",
                                    json={"kind": "progress", "body": body}).status_code == 201
    assert cli(app, "audit", "export-head").exit_code == 0  # 2026-11-21
    total = len(sealed(wiring))
    result = cli(app, "audit", "verify", "--since", "2026-11-21")
    assert result.exit_code == 0, result.output
    assert f"intact: {total - day1} entries" in result.output and "matches 1 exported heads" in result.output
    with tamperable.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": day1 + 1})
    result = cli(app, "audit", "verify", "--since", "2026-11-21")
    assert result.exit_code == 1 and f"entry {day1 + 1} is missing" in result.output, result.output
    result = cli(app, "audit", "verify", "--since", "21/11/2026")
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output


def test_the_head_file_is_bisected_by_time(tmp_path, wiring):
    path = tmp_path / "heads.log"
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(1, 500):
        audit_heads.append(path, audit_heads.format_line(wiring.audit_keys, audit.Head(i * 3, f"{i:064x}"),
                                                         t0 + timedelta(hours=i)))
    for i in (1, 2, 137, 498, 499):
        start, window = audit_heads.read_since(path, wiring.audit_keys, t0 + timedelta(hours=i))
        assert (start.seq if start else None) == ((i - 1) * 3 or None)
        assert [h.seq for h in window.heads] == [k * 3 for k in range(i, 500)]
    start, window = audit_heads.read_since(path, wiring.audit_keys, t0 + timedelta(days=365))
    assert start.seq == 499 * 3 and window.heads == ()
    start, window = audit_heads.read_since(tmp_path / "none.log", wiring.audit_keys, t0)
    assert start is None and not window.exists


# --- concurrency on PostgreSQL ------------------------------------------------------------------------------


def test_many_writers_and_two_sealers_at_once_never_fork_the_chain_or_seal_twice(app, wiring, db_url, clock):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: nobody ever finds the head busy")
    with wiring.sessions() as session:
        actors = [create_user(session, wiring.plan, name=f"w{i}", role="office", unit="office", now=clock.now(),
                              actor=SystemActor(name="tests"))[0] for i in range(8)]
        session.commit()
    errors: list[Exception] = []
    _register_many(wiring, actors[0], clock.now(), 1, errors)  # stores the plan version
    stop = threading.Event()
    sealings: list[int] = []

    def sealer():
        try:
            while not stop.is_set():
                sealings.append(seal_pending(wiring, batch=7))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    per_writer = 6
    writers = [threading.Thread(target=_register_many, args=(wiring, a, clock.now(), per_writer, errors)) for a in actors]
    sealers = [threading.Thread(target=sealer) for _ in range(2)]
    for t in sealers + writers:
        t.start()
    for t in writers:
        t.join(timeout=180)
    stop.set()
    for t in sealers:
        t.join(timeout=60)
    assert not errors, errors
    seal_pending(wiring)
    with wiring.sessions() as session:
        assert audit.waiting(session) == 0
        result = audit.verify(session)
        assert result.ok, result.problems
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        assert seqs == list(range(1, len(seqs) + 1))
        registered = session.scalar(select(func.count()).select_from(AuditEntry)
                                    .where(AuditEntry.action == "incident.registered"))
        assert registered == 8 * per_writer + 1
        # No entry sealed twice: every registration's entry is there once.
        ids = list(session.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "incident.registered")))
        assert len(ids) == len(set(ids))
        assert session.get(AuditHead, 1).seq == seqs[-1]


def test_a_writer_does_not_wait_while_another_holds_the_head(app, wiring, db_url, clock):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time")
    add_user(wiring, clock, "first")  # the head exists
    with wiring.engine.connect() as holder:
        holder.execute(text("SELECT * FROM audit_head WHERE id = 1 FOR UPDATE"))
        done = threading.Event()

        def write():
            with wiring.sessions() as session:
                session.execute(text("SET LOCAL lock_timeout = '2s'"))  # waiting would fail, not hang
                create_user(session, wiring.plan, name="second", role="viewer", now=clock.now(),
                            actor=SystemActor(name="tests"))
                session.commit()
            done.set()

        t = threading.Thread(target=write)
        t.start()
        t.join(timeout=30)
        assert done.is_set()
        holder.rollback()
    assert len(waiting(wiring)) == 1 and len(sealed(wiring)) == 1
    assert seal_pending(wiring) == 1
    with wiring.sessions() as session:
        assert audit.verify(session).ok


def test_the_incident_page_shows_a_waiting_entry_as_such(app, wiring, clock, story, users, head_busy):
    clock.advance(minutes=3)
    assert users["office"].post(f"/api/v1/incidents/{story}/reports",
                                json={"kind": "progress", "body": "续报"}).status_code == 201
    client = signed_in(app, wiring, clock)
    html = page(client, f"/incidents/{story}")
    assert "待入链" in html and "#None" not in html
    head_busy()
    seal_pending(wiring)
    html = page(client, f"/incidents/{story}")
    assert "待入链" not in html


def signed_in(app, wiring, clock):
    """A browser signed in as an office user."""
    with wiring.sessions() as session:
        user, _ = create_user(session, wiring.plan, name="页面", role="office", unit="office", password=PASSWORD,
                              now=clock.now(), actor=SystemActor(name="tests"))
        session.commit()
        login = user.login
    client = app.test_client()
    assert client.get("/login").status_code == 200
    with client.session_transaction() as s:
        s["csrf"] = "t"
    r = client.post("/login", data={"login": login, "password": PASSWORD, "csrf_token": "t"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return client
