"""Alembic migrations on fresh SQLite and PostgreSQL databases: up, matches the models, down, up."""
from __future__ import annotations


import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from app.migrate import alembic_config, downgrade, upgrade
from incidents import models  # noqa: F401  (registers the tables)
from incidents.kernel.db import Base, normalise_url
from tests.conftest import scratch_pg_database

MODEL_TABLES = set(Base.metadata.tables)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    """A brand-new empty database of each kind, dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    with scratch_pg_database("yingji_mig") as url:
        yield url


def tables(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def schema_differences(url: str) -> list:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
            return compare_metadata(ctx, Base.metadata)
    finally:
        engine.dispose()


def audit_triggers(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal "
                                         "AND tgrelid = 'audit_entries'::regclass"))
            else:
                rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name = 'audit_entries'"))
            return {r[0] for r in rows}
    finally:
        engine.dispose()


def head_revision(url: str) -> str:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def test_one_head_and_a_linear_history():
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None
    assert all(r.down_revision is not None for r in revisions[:-1])


def test_upgrade_matches_models_downgrade_empties_upgrade_again(empty_url):
    assert tables(empty_url) == set()

    upgrade(empty_url)
    assert MODEL_TABLES <= tables(empty_url)
    assert tables(empty_url) - MODEL_TABLES == {"alembic_version"}
    assert current_revision(empty_url) == head_revision(empty_url)
    assert schema_differences(empty_url) == []
    assert audit_triggers(empty_url)

    downgrade(empty_url, "base")
    assert tables(empty_url) - {"alembic_version"} == set()
    assert current_revision(empty_url) is None

    upgrade(empty_url)
    assert MODEL_TABLES <= tables(empty_url)
    assert schema_differences(empty_url) == []
    assert audit_triggers(empty_url)


def test_downgrade_removes_the_audit_function_on_postgresql(empty_url):
    if not empty_url.startswith("postgresql"):
        pytest.skip("the trigger function exists only on PostgreSQL")
    upgrade(empty_url)
    downgrade(empty_url, "base")
    engine = create_engine(normalise_url(empty_url))
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM pg_proc WHERE proname = 'audit_entries_append_only'"
                                     )).scalar() == 0
    finally:
        engine.dispose()


def test_the_app_works_on_a_database_migrated_with_the_cli(empty_url, clock):
    from app import create_app

    application = create_app({"DATABASE_URL": empty_url, "CLOCK": clock, "SECRET_KEY": "t", "TESTING": True,
                              "SCHEDULER": "off"})
    try:
        runner = application.test_cli_runner()
        result = runner.invoke(args=["db", "upgrade"])
        assert result.exit_code == 0, result.output
        assert current_revision(empty_url) == head_revision(empty_url)
        result = runner.invoke(args=["users", "create", "--name", "王五", "--role", "leader"])
        assert result.exit_code == 0, result.output
        token = result.output.strip().splitlines()[-1]
        r = application.test_client().get("/api/v1/plan", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        result = runner.invoke(args=["db", "downgrade", "base"])
        assert result.exit_code == 0, result.output
        assert tables(empty_url) - {"alembic_version"} == set()
    finally:
        application.extensions["yingji"].engine.dispose()
