"""Indexes for a city's years of data: complaints found by any part of a business name, limits met in a week.

The staff's complaint search matches the business name with LIKE '%…%' (OR the tracking number, OR
the phone's blind index), so without an index every search reads every complaint: 1,000,000 of them
for a city's five years. A trigram index (pg_trgm, a trusted extension the database owner may create)
answers it on PostgreSQL; on SQLite the index is a plain one on the column. The weekly complaints
summary counts the limits met in the week by `satisfied_at`, which had no index (1,700,000 limits read).
The minute's limit notices look for running limits not yet announced, ordered by id: the planner walked
the primary key through every limit ever kept (0.7 s a run); two partial indexes hold only those. The
hourly erasure of personal data past retention did the same through every complaint (1.2 s).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-08 00:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.create_index('ix_complaints_unerased_finished', ['finished_at'], unique=False,
                              sqlite_where=sa.text('erased_at IS NULL'), postgresql_where=sa.text('erased_at IS NULL'))
    with op.batch_alter_table('complaint_limits', schema=None) as batch_op:
        batch_op.create_index('ix_complaint_limits_satisfied_at', ['satisfied_at'], unique=False)
        batch_op.create_index('ix_complaint_limits_unwarned', ['warn_at'], unique=False,
                              sqlite_where=sa.text("status = 'pending' AND warned_at IS NULL"),
                              postgresql_where=sa.text("status = 'pending' AND warned_at IS NULL"))
        batch_op.create_index('ix_complaint_limits_unannounced', ['due_at'], unique=False,
                              sqlite_where=sa.text("status = 'pending' AND overdue_at IS NULL"),
                              postgresql_where=sa.text("status = 'pending' AND overdue_at IS NULL"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_index('ix_complaints_business_name_trgm', 'complaints', ['business_name'], unique=False,
                        postgresql_using='gin', postgresql_ops={'business_name': 'gin_trgm_ops'})
    else:
        with op.batch_alter_table('complaints', schema=None) as batch_op:
            batch_op.create_index('ix_complaints_business_name_trgm', ['business_name'], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index('ix_complaints_business_name_trgm', table_name='complaints')
        op.execute("DROP EXTENSION IF EXISTS pg_trgm")
    else:
        with op.batch_alter_table('complaints', schema=None) as batch_op:
            batch_op.drop_index('ix_complaints_business_name_trgm')
    with op.batch_alter_table('complaint_limits', schema=None) as batch_op:
        batch_op.drop_index('ix_complaint_limits_unannounced',
                            sqlite_where=sa.text("status = 'pending' AND overdue_at IS NULL"),
                            postgresql_where=sa.text("status = 'pending' AND overdue_at IS NULL"))
        batch_op.drop_index('ix_complaint_limits_unwarned',
                            sqlite_where=sa.text("status = 'pending' AND warned_at IS NULL"),
                            postgresql_where=sa.text("status = 'pending' AND warned_at IS NULL"))
        batch_op.drop_index('ix_complaint_limits_satisfied_at')
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index('ix_complaints_unerased_finished', sqlite_where=sa.text('erased_at IS NULL'),
                            postgresql_where=sa.text('erased_at IS NULL'))
