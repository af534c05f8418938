"""The audit trail: every change is recorded, the chain verifies, tampering shows."""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from incidents.records import audit
from incidents.response import service
from incidents.models import AuditEntry, AuditHead
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.helpers import CLOSING_FORM, deliveries, incident_payload, iso


# --- helpers -------------------------------------------------------------------


def audit_count(wiring) -> int:
    with wiring.sessions() as session:
        return session.scalar(select(func.count()).select_from(AuditEntry))


def entries_after(wiring, seq: int) -> list[AuditEntry]:
    with wiring.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.seq > seq).order_by(AuditEntry.seq)))


def last_seq(wiring) -> int:
    with wiring.sessions() as session:
        return session.scalar(select(func.max(AuditEntry.seq))) or 0


def verify(app):
    return app.test_cli_runner().invoke(args=["audit", "verify"])


def drop_append_only(engine) -> None:
    """Remove the triggers that keep audit_entries append-only (to play the tamperer)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER audit_entries_append_only ON audit_entries"))
        else:
            conn.execute(text("DROP TRIGGER audit_entries_no_update"))
            conn.execute(text("DROP TRIGGER audit_entries_no_delete"))


def restore_append_only(engine) -> None:
    """Put the triggers back (the PostgreSQL database is shared by the whole run)."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("DROP TRIGGER IF EXISTS audit_entries_append_only ON audit_entries"))
            conn.execute(text("CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries "
                              "FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only()"))
        else:
            for verb in ("UPDATE", "DELETE"):
                conn.execute(text(f"DROP TRIGGER IF EXISTS audit_entries_no_{verb.lower()}"))
                conn.execute(text(f"CREATE TRIGGER audit_entries_no_{verb.lower()} BEFORE {verb} ON audit_entries "
                                  "BEGIN SELECT RAISE(ABORT, 'audit_entries is append-only'); END"))


@pytest.fixture
def tamperable(wiring):
    """Drop the append-only triggers for one test, and put them back afterwards."""
    drop_append_only(wiring.engine)
    yield wiring.engine
    restore_append_only(wiring.engine)


@pytest.fixture
def story(app, wiring, clock, users):
    """An incident taken through the API far enough to fill the chain; returns its id."""
    office, leader = users["office"], users["leader"]
    r = office.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    assert r.status_code == 201, r.get_json()
    iid = r.get_json()["id"]
    clock.advance(minutes=20)
    assert office.post(f"/api/v1/incidents/{iid}/reports", json={"kind": "initial", "body": "初报"}).status_code == 201
    assert office.post(f"/api/v1/incidents/{iid}/level", json={"level": "II", "reason": "重大"}).status_code == 200
    assert leader.post(f"/api/v1/incidents/{iid}/activate").status_code == 200
    assert audit_count(wiring) > 10
    return iid


# --- what is recorded ---------------------------------------------------------------


def test_every_api_state_change_is_recorded_with_actor_time_and_action(app, wiring, clock, users):
    office, leader, station = users["office"], users["leader"], users["station"]
    iid = None

    def step(user, method, url, expected_action, body=None, status=200, minutes=7):
        nonlocal iid
        before = last_seq(wiring)
        clock.advance(minutes=minutes)
        url = url.format(iid=iid)
        r = user.post(url, json=body) if method == "post" else user.get(url)
        assert r.status_code == status, r.get_json()
        new = entries_after(wiring, before)
        assert new, f"{url} wrote no audit entry"
        actions = [e.action for e in new]
        assert expected_action in actions, actions
        for entry in new:
            assert entry.at == clock.now()
            assert entry.at.utcoffset() == timedelta(0)
            assert entry.actor and entry.action and entry.entity and entry.entity_id
            assert entry.hash and entry.prev_hash and entry.hash != entry.prev_hash
        mine = [e for e in new if e.action == expected_action]
        assert all(e.actor_id == user.id and e.actor.startswith(f"{user.role}:") for e in mine)
        return r

    r = step(station, "post", "/api/v1/incidents", "incident.registered",
             incident_payload(discovered_at=iso(clock.now())), 201)
    iid = r.get_json()["id"]
    step(station, "post", "/api/v1/incidents/{iid}/reports", "report.submitted", {"kind": "initial", "body": "初报"}, 201)
    step(office, "post", "/api/v1/incidents/{iid}/level", "incident.graded", {"level": "II", "reason": "重大"})
    # The bureau's report: filed by the office, signed off by the leadership, then told to each recipient within
    # the same minutes; the last delivery meets its clock.
    r = step(office, "post", "/api/v1/incidents/{iid}/reports", "report.submitted", {"kind": "bureau", "body": "局报告"},
             201)
    rid = r.get_json()["report"]["id"]
    step(leader, "post", f"/api/v1/reports/{rid}/sign-off", "report.released", {}, minutes=0)
    step(office, "post", f"/api/v1/reports/{rid}/recipients/county_government/delivery", "report.delivered",
         {"channel": "gov_intranet", "reference": "政务内网回执 1"}, minutes=0)
    step(office, "post", f"/api/v1/reports/{rid}/recipients/city_bureau/delivery", "deadline.met",
         {"channel": "fax", "reference": "传真 0371-1"}, minutes=0)
    step(leader, "post", "/api/v1/incidents/{iid}/activate", "incident.activated")
    step(office, "post", "/api/v1/incidents/{iid}/measures", "report.submitted",
         {"measure": "measures_issued", "body": "措施已下发"}, 201)
    step(office, "post", "/api/v1/incidents/{iid}/reports", "report.submitted", {"kind": "progress", "body": "续报"}, 201)
    step(office, "post", "/api/v1/incidents/{iid}/closing-report", "closing.submitted", CLOSING_FORM, 201)
    step(leader, "post", "/api/v1/incidents/{iid}/closing-report/approve", "closing.approved", {"note": "同意"})
    step(leader, "post", "/api/v1/incidents/{iid}/end", "incident.ended", {"reason": "处置完毕"})
    r = step(office, "post", "/api/v1/incidents/{iid}/reports", "report.submitted", {"kind": "closing", "body": "书面报告"},
             201)
    rid = r.get_json()["report"]["id"]
    step(leader, "post", f"/api/v1/reports/{rid}/sign-off", "report.signed_off", {})
    for row in deliveries():
        step(office, "post", f"/api/v1/reports/{rid}/recipients/{row.pop('code')}/delivery", "report.delivered", row)

    # The incident's trail through the API shows the same, with UTC times.
    trail = office.get(f"/api/v1/incidents/{iid}/audit").get_json()["entries"]
    assert [e["seq"] for e in trail] == sorted(e["seq"] for e in trail)
    assert {"incident.registered", "incident.graded", "incident.activated", "incident.ended", "incident.archived",
            "report.submitted", "deadline.started", "deadline.met"} <= {e["action"] for e in trail}
    assert all(e["at"].endswith("+00:00") for e in trail)
    registered = [e for e in trail if e["action"] == "incident.registered"][0]
    assert registered["data"]["plan_version"] == "2021-12-06.1"
    assert registered["actor"].startswith("station:")
    assert verify(app).exit_code == 0


def test_a_refused_request_writes_nothing_but_the_refusal(app, wiring, clock, users):
    before = audit_count(wiring)
    r = users["viewer"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    assert r.status_code == 403
    r = users["office"].post("/api/v1/incidents", json=incident_payload(category="nope"))
    assert r.status_code == 400
    assert [(e.action, e.entity, e.actor_id) for e in entries_after(wiring, before)] == [
        ("user.forbidden", "user", users["viewer"].id)]


def test_reading_writes_nothing(app, wiring, story, users):
    before = audit_count(wiring)
    assert users["office"].get(f"/api/v1/incidents/{story}").status_code == 200
    assert users["office"].get("/api/v1/incidents").status_code == 200
    assert users["office"].get(f"/api/v1/incidents/{story}/audit").status_code == 200
    assert audit_count(wiring) == before


# --- verify --------------------------------------------------------------------------


def test_verify_passes_on_an_intact_chain(app, wiring, story):
    result = verify(app)
    assert result.exit_code == 0, result.output
    assert f"{audit_count(wiring)} entries" in result.output
    with wiring.sessions() as session:
        assert audit.verify(session).ok


def test_verify_on_an_empty_trail(tmp_path):
    from app import create_app
    from app.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(url)
    application = create_app({"DATABASE_URL": url, "SECRET_KEY": "t", "TESTING": True, "SCHEDULER": "off",
                              "AUDIT_HEAD_FILE": str(tmp_path / "audit_heads.log")})
    try:
        result = verify(application)
        assert result.exit_code == 0, result.output
        assert "0 entries" in result.output
    finally:
        application.extensions["yingji"].engine.dispose()


def test_verify_detects_an_edited_entry(app, wiring, story, tamperable):
    with tamperable.begin() as conn:
        row = conn.execute(text("SELECT data FROM audit_entries WHERE seq = 5")).one()
        data = json.loads(row.data)
        data["tampered"] = True
        conn.execute(text("UPDATE audit_entries SET data = :d WHERE seq = 5"), {"d": json.dumps(data)})
    result = verify(app)
    assert result.exit_code == 1
    assert re.search(r"\bentry 5\b", result.output), result.output
    assert "altered" in result.output


def test_verify_detects_an_edited_actor_even_with_its_hash_recomputed(app, wiring, story, tamperable):
    # A careful tamperer rewrites the entry and its own hash: the next entry no longer follows it.
    with wiring.sessions() as session:
        row = session.get(AuditEntry, 4)
        fields = dict(seq=row.seq, at=row.at, actor="leader:someone-else", action=row.action, entity=row.entity,
                      entity_id=row.entity_id, incident_id=row.incident_id, data=row.data, prev_hash=row.prev_hash)
        new_hash = audit.entry_hash(**fields)
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET actor = :a, hash = :h WHERE seq = 4"),
                     {"a": "leader:someone-else", "h": new_hash})
    result = verify(app)
    assert result.exit_code == 1
    assert re.search(r"\bentry 5\b", result.output), result.output


def test_verify_detects_a_deleted_entry_in_the_middle(app, wiring, story, tamperable):
    with tamperable.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = 6"))
    result = verify(app)
    assert result.exit_code == 1
    assert re.search(r"\bentry 6\b", result.output), result.output


def test_verify_detects_a_deleted_last_entry(app, wiring, story, tamperable):
    last = last_seq(wiring)
    with tamperable.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries WHERE seq = :s"), {"s": last})
    result = verify(app)
    assert result.exit_code == 1
    assert re.search(rf"\bentry {last}\b", result.output), result.output


def test_verify_detects_reordered_entries(app, wiring, story, tamperable):
    with tamperable.begin() as conn:
        conn.execute(text("UPDATE audit_entries SET seq = -1 WHERE seq = 3"))
        conn.execute(text("UPDATE audit_entries SET seq = 3 WHERE seq = 4"))
        conn.execute(text("UPDATE audit_entries SET seq = 4 WHERE seq = -1"))
    result = verify(app)
    assert result.exit_code == 1
    assert re.search(r"\bentry [34]\b", result.output), result.output


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entries SET actor = 'x' WHERE seq = 2",
    "UPDATE audit_entries SET data = '{}'",
    "DELETE FROM audit_entries WHERE seq = 2",
    "DELETE FROM audit_entries",
])
def test_the_database_refuses_update_and_delete_of_audit_entries(app, wiring, story, statement):
    before = audit_count(wiring)
    with pytest.raises(DBAPIError) as info:
        with wiring.engine.begin() as conn:
            conn.execute(text(statement))
    assert "append-only" in str(info.value)
    assert audit_count(wiring) == before
    assert verify(app).exit_code == 0


# --- concurrency ---------------------------------------------------------------------


def _register_many(wiring, actor, start, count, errors):
    try:
        for i in range(count):
            with wiring.sessions() as session:
                service.register_incident(
                    session, wiring.plan, actor=actor, now=start + timedelta(seconds=i),
                    facts=service.NewIncident(title=f"并发登记 {actor.name} {i}", category="food_poisoning",
                                              discovered_at=start, location="某地", station="chengguan",
                                              source="电话", nature="食物中毒", scope="", trend="",
                                              measures_taken="", casualties=""))
                session.commit()
    except Exception as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_concurrent_writers_keep_the_chain_intact_on_postgresql(app, wiring, db_url, clock):
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN; the row lock is what PostgreSQL relies on")
    with wiring.sessions() as session:
        actors = []
        for i in range(2):
            user, _ = create_user(session, wiring.plan, name=f"office-{i}", role="office", unit="office",
                                  now=clock.now(), actor=SystemActor(name="tests"))
            actors.append(user)
        session.commit()
    # The plan version is stored by the first registration; the race on that row is a separate test.
    errors: list[Exception] = []
    _register_many(wiring, actors[0], clock.now(), 1, errors)
    assert not errors, errors
    per_thread = 15
    threads = [threading.Thread(target=_register_many, args=(wiring, a, clock.now(), per_thread, errors))
               for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    # Writers that found the head busy left their entries to the sealer (the scheduler's job).
    from app.jobs.audit_seal import seal_pending
    seal_pending(wiring)
    with wiring.sessions() as session:
        assert audit.waiting(session) == 0
        result = audit.verify(session)
        assert result.ok, result.problems
        seqs = list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        assert seqs == list(range(1, len(seqs) + 1))
        registered = session.scalar(select(func.count()).select_from(AuditEntry)
                                    .where(AuditEntry.action == "incident.registered"))
        assert registered == 2 * per_thread + 1
        head = session.get(AuditHead, 1)
        assert head.seq == seqs[-1]
    assert verify(app).exit_code == 0


def test_a_session_used_for_several_transactions_keeps_chaining(app, wiring, clock):
    """A long-lived session (a script, a worker) commits, someone else commits, it commits again."""
    actor = SystemActor(name="tests")
    with wiring.sessions() as long_lived:
        create_user(long_lived, wiring.plan, name="first", role="viewer", now=clock.now(), actor=actor)
        long_lived.commit()
        with wiring.sessions() as other:
            create_user(other, wiring.plan, name="second", role="viewer", now=clock.now(), actor=actor)
            other.commit()
        create_user(long_lived, wiring.plan, name="third", role="viewer", now=clock.now(), actor=actor)
        long_lived.commit()
    with wiring.sessions() as session:
        result = audit.verify(session)
        assert result.ok, result.problems
        assert result.entries == 3


def _commit_other_after_first(engine, other, marker: str):
    """Commit `other` right after the first statement containing `marker` runs on the engine."""
    state = {"done": False}

    def after(conn, cursor, statement, parameters, context, executemany):
        if not state["done"] and marker in statement:
            state["done"] = True
            other.commit()

    return after, state


def test_first_two_writers_on_an_empty_chain_both_succeed(app, wiring, db_url, clock):
    """Two transactions write the first audit entries of a fresh database at the same time.

    Made deterministic: B reads the (missing) chain head, then A commits its head, then B goes on.
    """
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE")
    from sqlalchemy import event

    actor = SystemActor(name="tests")
    with wiring.sessions() as a, wiring.sessions() as b:
        create_user(a, wiring.plan, name="writer-a", role="viewer", now=clock.now(), actor=actor)
        audit._chain_pending(a)  # A has written the head row, not yet committed
        create_user(b, wiring.plan, name="writer-b", role="viewer", now=clock.now(), actor=actor)
        listener, state = _commit_other_after_first(wiring.engine, a, "FROM audit_head")
        event.listen(wiring.engine, "after_cursor_execute", listener)
        try:
            b.commit()
        finally:
            event.remove(wiring.engine, "after_cursor_execute", listener)
        assert state["done"]
    with wiring.sessions() as session:
        result = audit.verify(session)
        assert result.ok, result.problems
        assert result.entries == 2


def test_scheduler_firings_are_recorded_and_keep_the_chain(app, wiring, clock, story):
    from app.jobs.clocks import tick
    from tests.helpers import Recorder

    before = last_seq(wiring)
    clock.advance(days=2)  # the 24-hour measures and work-team clocks are overdue
    tick(wiring, Recorder())
    new = entries_after(wiring, before)
    overdue = [e for e in new if e.action == "deadline.overdue"]
    assert overdue, [e.action for e in new]
    assert all(e.actor == "system:scheduler" and e.actor_id is None and e.at == clock.now() for e in overdue)
    assert verify(app).exit_code == 0


def test_chain_verifies_with_sub_second_times(app, wiring, clock, users):
    clock.advance(timedelta(seconds=1, microseconds=234567))
    r = users["office"].post("/api/v1/incidents", json=incident_payload(discovered_at=iso(clock.now())))
    assert r.status_code == 201, r.get_json()
    entry = entries_after(wiring, 0)[-1]
    assert entry.at.microsecond == 234567
    result = verify(app)
    assert result.exit_code == 0, result.output
