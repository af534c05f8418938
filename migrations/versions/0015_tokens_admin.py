"""API tokens of their own: several per user, hashed, scoped read or write, expiring, revocable, last use.

Each user's one token (users.token_hash) becomes a token named "default", write-scoped and without
expiry, so that every client keeps working; the column then goes. Downgrading gives each user back
the hash of their oldest live token (or of a fresh random one nobody knows).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 18:00:00
"""
from __future__ import annotations

import hashlib
import secrets

from alembic import op
import sqlalchemy as sa
import incidents.kernel.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('scope', sa.String(length=10), nullable=False),
    sa.Column('created_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', incidents.kernel.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    users = sa.table('users', sa.column('id', sa.Integer), sa.column('token_hash', sa.String),
                     sa.column('created_at', incidents.kernel.db.UTCDateTime(timezone=True)))
    tokens = sa.table('api_tokens', sa.column('user_id', sa.Integer), sa.column('name', sa.String),
                      sa.column('token_hash', sa.String), sa.column('scope', sa.String),
                      sa.column('created_at', incidents.kernel.db.UTCDateTime(timezone=True)))
    bind = op.get_bind()
    bind.execute(tokens.insert().from_select(
        ['user_id', 'name', 'token_hash', 'scope', 'created_at'],
        sa.select(users.c.id, sa.literal('default'), users.c.token_hash, sa.literal('write'), users.c.created_at)))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_users_token_hash'), type_='unique')
        batch_op.drop_column('token_hash')


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_hash', sa.String(length=64), nullable=True))

    bind = op.get_bind()
    users = sa.table('users', sa.column('id', sa.Integer), sa.column('token_hash', sa.String))
    tokens = sa.table('api_tokens', sa.column('id', sa.Integer), sa.column('user_id', sa.Integer),
                      sa.column('token_hash', sa.String), sa.column('revoked_at', sa.DateTime))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        digest = bind.execute(sa.select(tokens.c.token_hash)
                              .where(tokens.c.user_id == user_id, tokens.c.revoked_at.is_(None))
                              .order_by(tokens.c.id).limit(1)).scalar()
        if digest is None:
            digest = hashlib.sha256(secrets.token_urlsafe(32).encode()).hexdigest()
        bind.execute(users.update().where(users.c.id == user_id).values(token_hash=digest))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.create_unique_constraint(batch_op.f('uq_users_token_hash'), ['token_hash'])

    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))
    op.drop_table('api_tokens')
