"""Lockouts a security administrator lifts, and indexes for the daily retention purge.

A lockout lifted early keeps its row: `cleared_at`, `cleared_by_id`, `cleared_by` and
`cleared_reason` say who lifted it, when and why (the lockout history stays). The purge deletes in
bounded batches by age; each table it reads gets an index on the time it reads: login attempts,
ended login sessions, one-time codes, provider receipts and rate-limit windows.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# (table, column) pairs that get an index of their own, named by the project's convention.
INDEXED = (('login_attempts', 'at'), ('login_sessions', 'ended_at'), ('one_time_codes', 'expires_at'),
           ('provider_receipts', 'received_at'), ('rate_buckets', 'window_start'))


def upgrade() -> None:
    with op.batch_alter_table('login_locks', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cleared_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('cleared_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('cleared_by', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('cleared_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_login_locks_cleared_by_id_users'), 'users', ['cleared_by_id'],
                                    ['id'])
    for table, column in INDEXED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)


def downgrade() -> None:
    for table, column in reversed(INDEXED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
    with op.batch_alter_table('login_locks', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_login_locks_cleared_by_id_users'), type_='foreignkey')
        batch_op.drop_column('cleared_reason')
        batch_op.drop_column('cleared_by')
        batch_op.drop_column('cleared_by_id')
        batch_op.drop_column('cleared_at')
