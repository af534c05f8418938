"""Indexes for the accountability sheet of a period: clocks by due time, backdated reports.

The sheet counts and lists the clocks due in a period (a month, a year) out of a city's five years
(405,000 clocks), and finds the clocks a backdated report (补录) judged; without these indexes each
query of the sheet read every clock and every report.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-08 01:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.create_index('ix_deadlines_due_at', ['due_at'], unique=False)
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_backdated', ['incident_id'], unique=False,
                              sqlite_where=sa.text('backdated'), postgresql_where=sa.text('backdated'))


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_backdated', sqlite_where=sa.text('backdated'),
                            postgresql_where=sa.text('backdated'))
    with op.batch_alter_table('deadlines', schema=None) as batch_op:
        batch_op.drop_index('ix_deadlines_due_at')
