"""Withdrawal (作废) of a duplicate, test or false registration: who, when, why, and the original;
and, on a task pushed to a department with nobody on duty, who the escalation reaches instead.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import incidents.kernel.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("withdraw_kind", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("duplicate_of_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_incidents_withdrawn_by_id_users"), "users", ["withdrawn_by_id"], ["id"])
        batch_op.create_foreign_key(batch_op.f("fk_incidents_duplicate_of_id_incidents"), "incidents",
                                    ["duplicate_of_id"], ["id"])
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uncovered_note", sa.Text(), nullable=True))


def downgrade() -> None:
    # The older code knows no withdrawal: a withdrawn registration comes back as archived, its reason kept.
    op.execute("UPDATE incidents SET status = 'archived', archived_at = withdrawn_at, "
               "end_reason = '已作废：' || withdraw_reason WHERE status = 'withdrawn'")
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.drop_column("uncovered_note")
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_incidents_duplicate_of_id_incidents"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("fk_incidents_withdrawn_by_id_users"), type_="foreignkey")
        batch_op.drop_column("duplicate_of_id")
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdraw_kind")
        batch_op.drop_column("withdrawn_by_id")
        batch_op.drop_column("withdrawn_at")
