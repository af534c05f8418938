"""The audit inbox, and board events that wait for their number: writers no longer queue on one row.

Writers that find the chain's head row locked by another writer leave their entries in
`audit_inbox` (numbered by its sequence, each with an HMAC under the audit key) instead of
waiting; the sealer moves them into `audit_entries`, which stays append-only. Likewise a board
event whose room is busy is stored with no number (seq NULL) and numbered by the room's next
writer or the scheduler.

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
    with op.batch_alter_table('board_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=True)
    op.create_index('ix_board_events_waiting', 'board_events', ['id'], unique=False,
                    postgresql_where=sa.text('seq IS NULL'), sqlite_where=sa.text('seq IS NULL'))


def downgrade() -> None:
    # Entries still waiting would be lost with the table: refuse rather than drop evidence.
    bind = op.get_bind()
    waiting = bind.execute(sa.text("SELECT count(*) FROM audit_inbox")).scalar_one()
    if waiting:
        raise RuntimeError(f"{waiting} audit entries are still waiting in audit_inbox: run `flask audit seal` "
                           "before downgrading")
    unnumbered = bind.execute(sa.text("SELECT count(*) FROM board_events WHERE seq IS NULL")).scalar_one()
    if unnumbered:
        raise RuntimeError(f"{unnumbered} board events still wait for their number: let the scheduler run "
                           "before downgrading")
    op.drop_index('ix_board_events_waiting', table_name='board_events')
    with op.batch_alter_table('board_events', schema=None) as batch_op:
        batch_op.alter_column('seq', existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table('audit_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_inbox_incident_id'))
    op.drop_table('audit_inbox')
