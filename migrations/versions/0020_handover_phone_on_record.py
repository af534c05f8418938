"""同岗替代: whether a substitute's shift phone is the substitute's alert phone on record.

Shifts made before this revision, hand-overs included, are left unknown (NULL): nobody checked them.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-08 10:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone_on_record', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('shifts', schema=None) as batch_op:
        batch_op.drop_column('phone_on_record')
