"""The audit inbox: entries committed with their change, sealed into the chain in batches.

Writers that find the chain's head row locked by another writer leave their entries in
`audit_inbox` (numbered by its sequence, each with an HMAC under the audit key) instead of
waiting; the sealer moves them into `audit_entries`, which stays append-only.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-08 00:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=32), nullable=False),
    sa.Column('at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=60), nullable=False),
    sa.Column('entity', sa.String(length=40), nullable=False),
    sa.Column('entity_id', sa.String(length=40), nullable=False),
    sa.Column('incident_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.Text(), nullable=False),
    sa.Column('key_version', sa.String(length=40), nullable=False),
    sa.Column('mac', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_inbox')),
    sa.UniqueConstraint('token', name=op.f('uq_audit_inbox_token'))
    )
    with op.batch_alter_table('audit_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_inbox_incident_id'), ['incident_id'], unique=False)


def downgrade() -> None:
    # Entries still waiting would be lost with the table: refuse rather than drop evidence.
    bind = op.get_bind()
    waiting = bind.execute(sa.text("SELECT count(*) FROM audit_inbox")).scalar_one()
    if waiting:
        raise RuntimeError(f"{waiting} audit entries are still waiting in audit_inbox: run `flask audit seal` "
                           "before downgrading")
    with op.batch_alter_table('audit_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_inbox_incident_id'))
    op.drop_table('audit_inbox')
