"""bench.seed on PostgreSQL: a tiny city seeds in seconds, its audit chain verifies, and the daily pages work on it."""
from __future__ import annotations

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from app import create_app
from app.migrate import upgrade
from bench import seed as seeding
from incidents.kernel.actors import SystemActor
from incidents.models import Complaint
from incidents.people.users import create_user
from incidents.records import audit
from tests.conftest import scratch_pg_database


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    """A tiny seeded city (0.05 % of it, over 0.2 years), and the app on it with the seed's keys."""
    with scratch_pg_database("yingji_seed") as url:
        upgrade(url)
        counts = seeding.seed(url, fraction=0.0005, years=0.2, seed_number=5)
        folder = tmp_path_factory.mktemp("seeded")
        app = create_app({"DATABASE_URL": url, "SCHEDULER": "off", "SECRET_KEY": "test", "TESTING": True,
                          "AUDIT_HEAD_FILE": str(folder / "audit_heads"), **seeding.bench_keys(5)})
        yield url, counts, app


def test_every_kind_of_row_is_seeded_with_history_and_live_incidents(seeded):
    url, counts, _ = seeded
    for table in ("incidents", "deadlines", "reports", "complaints", "complaint_limits", "escalations", "deliveries",
                  "audit_entries", "shifts", "users"):
        assert counts[table] > 0, table
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        statuses = set(conn.execute(text("SELECT DISTINCT status FROM incidents")).scalars())
        clocks = set(conn.execute(text("SELECT DISTINCT status FROM deadlines")).scalars())
        sealed = conn.execute(text("SELECT phone FROM complaints WHERE erased_at IS NULL LIMIT 1")).scalar_one()
    engine.dispose()
    assert {"archived", "active"} <= statuses  # history in bulk, today's incidents from the demo loader
    assert {"met", "late", "overdue"} <= clocks
    assert sealed.startswith("pii1:")  # personal data is sealed at rest, as the intake stores it


def test_the_seeded_audit_chain_verifies_with_the_seed_key(seeded):
    _, counts, app = seeded
    wiring = app.extensions["yingji"]
    with wiring.sessions() as session:
        result = audit.verify(session, wiring.audit_keys)
    assert result.ok, result.problems[:3]
    assert result.entries == counts["audit_entries"] and result.unkeyed == 0


def test_daily_pages_and_phone_search_work_on_the_seeded_city(seeded):
    url, _, app = seeded
    wiring = app.extensions["yingji"]
    with wiring.sessions() as session:
        _, token = create_user(session, wiring.plan, name="领导", role="leader", login="seed-leader",
                               now=wiring.clock.now(), actor=SystemActor(name="test"))
        _, auditor = create_user(session, wiring.plan, name="审计", role="auditor", login="seed-auditor",
                                 now=wiring.clock.now(), actor=SystemActor(name="test"))
        session.commit()
        kept = session.scalars(select(Complaint).where(Complaint.erased_at.is_(None), Complaint.id < 1000)
                               .order_by(Complaint.id)).first()
        long_id = session.execute(text("SELECT incident_id FROM deadlines GROUP BY incident_id "
                                       "ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    for path in ("/", "/duty", f"/incidents/{long_id}", "/complaints", "/accountability",
                 f"/api/v1/incidents/{long_id}", "/api/v1/complaints?status=open"):
        assert client.get(path, headers=headers).status_code == 200, path
    found = client.get(f"/api/v1/complaints?q={seeding.phone_of(kept.id)}", headers=headers).get_json()["complaints"]
    assert kept.tracking_no in [c["tracking_no"] for c in found]
    verified = client.get("/api/v1/audit/verify", headers={"Authorization": f"Bearer {auditor}"}).get_json()
    assert verified["intact"], verified["problems"][:3]
