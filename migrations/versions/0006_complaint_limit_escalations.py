"""Escalations of 12315 complaint limits: an escalation's item may be a complaint limit.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 04:35:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("complaint_limit_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_escalations_complaint_limit_id_complaint_limits"),
                                    "complaint_limits", ["complaint_limit_id"], ["id"])
        batch_op.create_index(batch_op.f("ix_escalations_complaint_limit_id"), ["complaint_limit_id"], unique=False)


def downgrade() -> None:
    # A complaint's SMS may have carried an incident's in a bundle: unhook those first.
    op.execute("UPDATE deliveries SET bundle_id = NULL WHERE bundle_id IN (SELECT d.id FROM deliveries d "
               "JOIN escalations e ON d.escalation_id = e.id WHERE e.complaint_limit_id IS NOT NULL)")
    op.execute("DELETE FROM deliveries WHERE escalation_id IN "
               "(SELECT id FROM escalations WHERE complaint_limit_id IS NOT NULL)")
    op.execute("DELETE FROM escalations WHERE complaint_limit_id IS NOT NULL")
    with op.batch_alter_table("escalations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_escalations_complaint_limit_id"))
        batch_op.drop_constraint(batch_op.f("fk_escalations_complaint_limit_id_complaint_limits"), type_="foreignkey")
        batch_op.drop_column("complaint_limit_id")
        batch_op.alter_column("incident_id", existing_type=sa.Integer(), nullable=False)
