"""Each migration runs on a database that already holds data, up and down, on both kinds."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import create_engine, text

from app.migrate import downgrade, upgrade
from incidents.kernel.db import normalise_url
from tests.test_migrations import empty_url  # noqa: F401  (fixture)

AT = datetime(2026, 11, 20, 1, 0, tzinfo=timezone.utc).isoformat()


def _seed_first_revision(url: str) -> None:
    """Write a user, a plan version, an incident with a clock and a report at revision 0001."""
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO users (id, name, login, role, token_hash, active, created_at) "
                          "VALUES (1, '李', 'li', 'office', 'h', true, :at)"), {"at": AT})
        conn.execute(text("INSERT INTO plan_versions (id, plan_id, version, sha256, content, loaded_at) "
                          "VALUES (1, 'p', '1', 's', 'x', :at)"), {"at": AT})
        conn.execute(text(
            "INSERT INTO incidents (id, number, title, category, status, lead_department, discovered_at, location, "
            "source, nature, scope, trend, measures_taken, casualties, plan_version_id, created_by_id, created_at) "
            "VALUES (1, 'YJ2026-00001', '事件', 'food_poisoning', 'registered', 'food_coord', :at, '城关', '来源', "
            "'性质', '', '', '', '', 1, 1, :at)"), {"at": AT})
        conn.execute(text("INSERT INTO reports (id, incident_id, kind, body, submitted_at, entered_at, "
                          "submitted_by_id) VALUES (1, 1, 'initial', '初报', :at, :at, 1)"), {"at": AT})
        conn.execute(text(
            "INSERT INTO deadlines (id, incident_id, kind, cycle, name, starts_at, due_at, status, warn_before, "
            "fire_stage, timing_version, created_at, satisfied_by_report_id) VALUES (1, 1, 'initial_report', 0, "
            "'初报', :at, :at, 'met', '[]', 1, 1, :at, 1)"), {"at": AT})
    engine.dispose()


def _count(url: str, table: str) -> int:
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        n = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return n


def test_upgrade_and_downgrade_keep_existing_rows(empty_url):  # noqa: F811
    upgrade(empty_url, "0001")
    _seed_first_revision(empty_url)
    upgrade(empty_url, "head")
    assert [_count(empty_url, t) for t in ("users", "incidents", "reports", "deadlines")] == [1, 1, 1, 1]
    downgrade(empty_url, "0001")
    assert [_count(empty_url, t) for t in ("users", "incidents", "reports", "deadlines")] == [1, 1, 1, 1]
    upgrade(empty_url, "head")
    assert _count(empty_url, "incidents") == 1


def _rows(url: str, sql: str) -> list[tuple]:
    engine = create_engine(normalise_url(url))
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(text(sql))]
    engine.dispose()
    return rows


def test_0015_moves_each_users_token_into_api_tokens_and_back(empty_url):  # noqa: F811
    upgrade(empty_url, "0013")
    _seed_first_revision(empty_url)  # user 1 with token hash 'h'
    upgrade(empty_url, "0015")
    assert _rows(empty_url, "SELECT user_id, name, token_hash, scope, expires_at, revoked_at FROM api_tokens") == [
        (1, "default", "h", "write", None, None)]
    downgrade(empty_url, "0013")
    assert _rows(empty_url, "SELECT id, token_hash FROM users") == [(1, "h")]
