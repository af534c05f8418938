"""API tokens limited to named actions (scope `actions`, 限定操作): the action codes kept on the token.

Existing tokens keep their scope (read or write) and get no actions. Downgrading revokes every
`actions` token and lists it as read-only: an older version knows neither the scope nor its actions,
and a limited credential must never come back wider than it was issued.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actions', sa.JSON(), nullable=True))


def downgrade() -> None:
    tokens = sa.table('api_tokens', sa.column('scope', sa.String),
                      sa.column('revoked_at', incidents.kernel.db.UTCDateTime(timezone=True)))
    bind = op.get_bind()
    bind.execute(tokens.update().where(tokens.c.scope == 'actions', tokens.c.revoked_at.is_(None))
                 .values(revoked_at=datetime.now(timezone.utc)))
    bind.execute(tokens.update().where(tokens.c.scope == 'actions').values(scope='read'))
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_column('actions')
