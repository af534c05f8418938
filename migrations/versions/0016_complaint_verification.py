"""12315 verification: SMS codes and answered captchas (intake_challenges), and how each complaint
was verified (complaints.verified_by, complaints.verified_phone) so that surges count distinct
verified phones only.

Complaints stored before this revision stay unverified: they no longer count toward surges.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 17:40:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('intake_challenges',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('subject', sa.String(length=64), nullable=True),
    sa.Column('code_hash', sa.String(length=64), nullable=True),
    sa.Column('created_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_intake_challenges')),
    sa.UniqueConstraint('token', name=op.f('uq_intake_challenges_token'))
    )
    with op.batch_alter_table('intake_challenges', schema=None) as batch_op:
        batch_op.create_index('ix_intake_challenges_subject', ['kind', 'subject', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_intake_challenges_expires_at'), ['expires_at'], unique=False)

    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verified_by', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('verified_phone', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_column('verified_phone')
        batch_op.drop_column('verified_by')

    with op.batch_alter_table('intake_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_intake_challenges_expires_at'))
        batch_op.drop_index('ix_intake_challenges_subject')

    op.drop_table('intake_challenges')
