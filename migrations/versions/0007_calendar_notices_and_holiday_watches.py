"""Holiday notices the office enters, holiday watches as warnings (not responses), recounted complaint limits.

Every incident the old holiday watch opened (source_key `holiday:<first day>:<holiday>`) becomes a
`holiday_watch` with a row in `holiday_watches`; the open ones are `watching` and their clocks stop
firing here. The scheduler's holiday watch then cancels those clocks through the application, each
with an audit entry saying why (a watch owes no report), and closes the watches whose holiday is
over: a migration does not write the audit chain.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 16:00:00
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import yaml
from alembic import op

import incidents.kernel.db

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_OLD_KEY = re.compile(r"^holiday:(\d{4}-\d{2}-\d{2}):([a-z_]+)$")
_PERIOD = re.compile(r"(\d{4}-\d{2}-\d{2}) 至 (\d{4}-\d{2}-\d{2})")
_UTC = incidents.kernel.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=20), server_default="event", nullable=False))
    op.create_table(
        "calendar_notices",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("document_no", sa.String(length=100), nullable=True),
        sa.Column("breaks", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("replaces_id", sa.Integer(), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=True),
        sa.Column("entered_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["entered_by_id"], ["users.id"], name=op.f("fk_calendar_notices_entered_by_id_users")),
        sa.ForeignKeyConstraint(["replaces_id"], ["calendar_notices.id"],
                                name=op.f("fk_calendar_notices_replaces_id_calendar_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_notices")),
    )
    op.create_index(op.f("ix_calendar_notices_year"), "calendar_notices", ["year"], unique=False)
    op.create_table(
        "holiday_watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("holiday", sa.String(length=20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("holidays", sa.JSON(), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("certain", sa.Boolean(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("opened_at", _UTC, nullable=False),
        sa.Column("closes_at", _UTC, nullable=False),
        sa.Column("closed_at", _UTC, nullable=True),
        sa.Column("gaps_digest", sa.String(length=64), nullable=True),
        sa.Column("gaps_announced_at", _UTC, nullable=True),
        sa.ForeignKeyConstraint(["incident_id"], ["incidents.id"], name=op.f("fk_holiday_watches_incident_id_incidents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holiday_watches")),
        sa.UniqueConstraint("holiday", "year", name=op.f("uq_holiday_watches_holiday")),
        sa.UniqueConstraint("incident_id", name=op.f("uq_holiday_watches_incident_id")),
    )
    op.create_index(op.f("ix_holiday_watches_closes_at"), "holiday_watches", ["closes_at"], unique=False)
    op.create_table(
        "complaint_limit_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("limit_id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column("notice_id", sa.Integer(), nullable=True),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("due_on_before", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at_before", _UTC, nullable=False),
        sa.Column("due_at", _UTC, nullable=False),
        sa.Column("estimated_before", sa.Boolean(), nullable=False),
        sa.Column("estimated", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["complaint_id"], ["complaints.id"],
                                name=op.f("fk_complaint_limit_changes_complaint_id_complaints")),
        sa.ForeignKeyConstraint(["limit_id"], ["complaint_limits.id"],
                                name=op.f("fk_complaint_limit_changes_limit_id_complaint_limits")),
        sa.ForeignKeyConstraint(["notice_id"], ["calendar_notices.id"],
                                name=op.f("fk_complaint_limit_changes_notice_id_calendar_notices")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_limit_changes")),
    )
    op.create_index(op.f("ix_complaint_limit_changes_complaint_id"), "complaint_limit_changes", ["complaint_id"])
    op.create_index(op.f("ix_complaint_limit_changes_limit_id"), "complaint_limit_changes", ["limit_id"])
    op.create_index(op.f("ix_complaint_limit_changes_notice_id"), "complaint_limit_changes", ["notice_id"])
    _migrate_old_watches()


def _zone(conn, plan_version_id: int) -> ZoneInfo:
    content = conn.execute(sa.text("SELECT content FROM plan_versions WHERE id = :id"),
                           {"id": plan_version_id}).scalar()
    try:
        name = (yaml.safe_load(content or "") or {}).get("timezone") or "Asia/Shanghai"
        return ZoneInfo(str(name))
    except Exception:  # noqa: BLE001 - a plan that no longer reads still ran in Beijing
        return ZoneInfo("Asia/Shanghai")


def _migrate_old_watches() -> None:
    conn = op.get_bind()
    watches = sa.table("holiday_watches", sa.column("incident_id", sa.Integer), sa.column("holiday", sa.String),
                       sa.column("year", sa.Integer), sa.column("holidays", sa.JSON), sa.column("first_day", sa.Date),
                       sa.column("last_day", sa.Date), sa.column("certain", sa.Boolean),
                       sa.column("source", sa.Text), sa.column("opened_at", _UTC), sa.column("closes_at", _UTC),
                       sa.column("closed_at", _UTC))
    incidents = sa.table("incidents", sa.column("id", sa.Integer), sa.column("source_key", sa.String),
                         sa.column("scope", sa.Text), sa.column("status", sa.String), sa.column("created_at", _UTC),
                         sa.column("plan_version_id", sa.Integer))
    rows = conn.execute(sa.select(incidents.c.id, incidents.c.source_key, incidents.c.scope, incidents.c.status,
                                  incidents.c.created_at, incidents.c.plan_version_id)
                        .where(incidents.c.source_key.like("holiday:%")).order_by(incidents.c.id)).all()
    for incident_id, key, scope, status, opened, plan_version_id in rows:
        m = _OLD_KEY.match(key or "")
        if not m:
            continue
        first, holiday = date.fromisoformat(m.group(1)), m.group(2)
        year = first.year + 1 if holiday == "new_year" and first.month == 12 else first.year
        span = _PERIOD.search(scope or "")
        last = date.fromisoformat(span.group(2)) if span else first
        closes = datetime.combine(last + timedelta(days=1), time(0), _zone(conn, plan_version_id))
        archived = status == "archived"
        op.bulk_insert(watches, [{
            "incident_id": incident_id, "holiday": holiday, "year": year, "holidays": [holiday], "first_day": first,
            "last_day": last, "certain": False, "source": "迁移自旧版节日市场预警（0007），日期待按日历核对",
            "opened_at": opened, "closes_at": closes, "closed_at": closes if archived else None}])
        conn.execute(sa.text("UPDATE incidents SET kind = 'holiday_watch', source_key = :key"
                             + ("" if archived else ", status = 'watching'") + " WHERE id = :id"),
                     {"key": f"holiday:{year}:{holiday}", "id": incident_id})
        # A watch owes no report: its clocks stop firing now; the application cancels them with a reason.
        conn.execute(sa.text("UPDATE deadlines SET next_fire_at = NULL WHERE incident_id = :id "
                             "AND status IN ('pending', 'overdue')"), {"id": incident_id})


def downgrade() -> None:
    conn = op.get_bind()
    watches = sa.table("holiday_watches", sa.column("incident_id", sa.Integer), sa.column("holiday", sa.String),
                       sa.column("first_day", sa.Date))
    rows = conn.execute(sa.select(watches.c.incident_id, watches.c.holiday, watches.c.first_day)
                        .where(watches.c.incident_id.is_not(None))).all()
    for incident_id, holiday, first in rows:
        conn.execute(sa.text("UPDATE incidents SET source_key = :key WHERE id = :id"),
                     {"key": f"holiday:{first.isoformat()}:{holiday}", "id": incident_id})
    # The older code knows no `watching`: an open watch was an active Ⅳ response there.
    conn.execute(sa.text("UPDATE incidents SET status = 'active' WHERE status = 'watching'"))
    op.drop_index(op.f("ix_complaint_limit_changes_notice_id"), table_name="complaint_limit_changes")
    op.drop_index(op.f("ix_complaint_limit_changes_limit_id"), table_name="complaint_limit_changes")
    op.drop_index(op.f("ix_complaint_limit_changes_complaint_id"), table_name="complaint_limit_changes")
    op.drop_table("complaint_limit_changes")
    op.drop_index(op.f("ix_holiday_watches_closes_at"), table_name="holiday_watches")
    op.drop_table("holiday_watches")
    op.drop_index(op.f("ix_calendar_notices_year"), table_name="calendar_notices")
    op.drop_table("calendar_notices")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("kind")
