"""No SMS acknowledgement replay: the provider message and call ids already acted on, and each
escalation's random reply code (签收码).

Open escalations started before this revision get a code too; their SMS went out with the old
"回复1签收[A12]" text, which no longer acknowledges: such an item is signed on the board, or by the
code of its next SMS.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:00:00
"""
from __future__ import annotations

import secrets

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# As incidents/escalation/reply_codes.py, frozen here: a migration never imports what may change.
ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"


def upgrade() -> None:
    op.create_table('provider_receipts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('received_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_receipts')),
    sa.UniqueConstraint('sid', name=op.f('uq_provider_receipts_sid'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reply_code', sa.String(length=8), nullable=True))
        batch_op.create_index(batch_op.f('ix_escalations_reply_code'), ['reply_code'], unique=False)

    escalations = sa.table('escalations', sa.column('id', sa.Integer), sa.column('status', sa.String),
                           sa.column('reply_code', sa.String))
    bind = op.get_bind()
    taken: set[str] = set()
    for (row_id,) in bind.execute(sa.select(escalations.c.id)
                                  .where(escalations.c.status.in_(('running', 'exhausted')))).all():
        code = None
        while code is None or code in taken:
            code = "".join(secrets.choice(ALPHABET) for _ in range(4))
        taken.add(code)
        bind.execute(escalations.update().where(escalations.c.id == row_id).values(reply_code=code))


def downgrade() -> None:
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalations_reply_code'))
        batch_op.drop_column('reply_code')

    op.drop_table('provider_receipts')
