"""PostgreSQL least privilege: the app's role appends to the audit trail and can do nothing else to it."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import DBAPIError

from app import create_app, db_roles
from app.migrate import upgrade
from incidents.models import AuditEntry
from incidents.records import audit
from tests.conftest import PG_ADMIN_URL, TEST_AUDIT_KEY, repo_root, scratch_pg_database
from tests.helpers import incident_payload, iso


def test_the_shipped_sql_is_what_the_command_grants():
    shipped = (repo_root() / "deploy" / "postgres-roles.sql").read_text()
    assert shipped.endswith(db_roles.script("yingji_app"))


def test_role_names_are_checked():
    with pytest.raises(ValueError):
        db_roles.grant_statements("app; DROP TABLE audit_entries")


@pytest.fixture
def app_role(clock, tmp_path):
    """A scratch database migrated by the owner, and a throwaway role granted as documented."""
    role = f"yingji_app_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with scratch_pg_database("yingji_roles") as owner_url:
        upgrade(owner_url)
        with admin.connect() as conn:
            conn.execute(text(f"CREATE ROLE {role} LOGIN"))
            conn.execute(text(f'GRANT CONNECT ON DATABASE "{owner_url.rsplit("/", 1)[1]}" TO {role}'))
        config = {"CLOCK": clock, "TESTING": True, "SECRET_KEY": "test", "SCHEDULER": "off",
                  "AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_HEAD_FILE": str(tmp_path / "heads.log")}
        owner = create_app({**config, "DATABASE_URL": owner_url})
        result = owner.test_cli_runner().invoke(args=["db", "grant-app-role", role])
        assert result.exit_code == 0, result.output
        app_url = owner_url.replace("postgres@", f"{role}@", 1)
        application = create_app({**config, "DATABASE_URL": app_url})
        try:
            yield application, owner
        finally:
            application.extensions["yingji"].engine.dispose()
            owner.extensions["yingji"].engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f"DROP ROLE IF EXISTS {role}"))
    admin.dispose()


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entries SET actor = 'x' WHERE seq = 1",
    "DELETE FROM audit_entries WHERE seq = 1",
    "TRUNCATE audit_entries",
    "DROP TRIGGER audit_entries_append_only ON audit_entries",
    "ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_append_only",
    "DELETE FROM audit_head",
    "TRUNCATE audit_head",
    "DROP TABLE audit_entries",
    "UPDATE audit_inbox SET actor = 'x'",
    "TRUNCATE audit_inbox",
])
def test_the_app_role_cannot_rewrite_the_audit_trail_but_works(app_role, statement):
    application, owner = app_role
    wiring = application.extensions["yingji"]
    # The app's normal writes work under the role: a user, then an incident through the API.
    runner = application.test_cli_runner()
    result = runner.invoke(args=["users", "create", "--name", "办公室", "--role", "office", "--department", "office"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    client = application.test_client()
    r = client.post("/api/v1/incidents", json=incident_payload(discovered_at=iso(wiring.clock.now())),
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201, r.get_json()
    with wiring.sessions() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    assert before > 2
    # Anything else on the audit trail is refused by the database itself, whatever the triggers.
    with pytest.raises(DBAPIError) as info:
        with wiring.engine.begin() as conn:
            conn.execute(text(statement))
    assert "permission denied" in str(info.value) or "must be owner" in str(info.value)
    with wiring.sessions() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
        assert audit.verify(session).ok
    # The head can be exported and the trail verified as the app's role.
    assert runner.invoke(args=["audit", "export-head"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output


def test_the_app_role_leaves_entries_waiting_and_seals_them(app_role, monkeypatch):
    application, _owner = app_role
    wiring = application.extensions["yingji"]
    runner = application.test_cli_runner()
    real = audit._lock_head
    monkeypatch.setattr(audit, "_lock_head", lambda session, *, wait: None)  # the head is busy
    result = runner.invoke(args=["users", "create", "--name", "办公室", "--role", "office", "--department", "office"])
    assert result.exit_code == 0, result.output
    with wiring.sessions() as session:
        assert audit.waiting(session) > 0
    monkeypatch.setattr(audit, "_lock_head", real)
    result = runner.invoke(args=["audit", "seal"])
    assert result.exit_code == 0 and "0 still waiting" in result.output, result.output
    with wiring.sessions() as session:
        assert audit.waiting(session) == 0
        assert session.scalar(select(func.count()).select_from(AuditEntry)) > 0
        assert audit.verify(session).ok
