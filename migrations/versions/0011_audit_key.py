"""The audit chain gets a key: every entry names the key and algorithm that chained it.

Entries written before this revision stay as they are and are marked "v0" (plain SHA-256); the
application chains every later entry with an HMAC whose key is outside the database, starting from
the last v0 entry's hash. The migration does not re-key the old entries: it runs as the database
owner, which must not need the audit key, and re-keying would sign whatever the old trail holds,
including an edit made before the upgrade. The first keyed entry's HMAC covers the last v0 hash,
so the v0 entries cannot be rewritten afterwards without breaking it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 17:00:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN with a constant default fills the existing rows without an UPDATE, so the
    # append-only triggers neither fire nor need to be dropped (and a batch copy would lose them).
    op.add_column('audit_entries', sa.Column('key_version', sa.String(length=40), server_default='v0',
                                             nullable=False))


def downgrade() -> None:
    # Keyed entries do not verify once their key version is gone: downgrade scrap databases only.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE audit_entries DROP COLUMN key_version")  # SQLite 3.35+; keeps the triggers
    else:
        op.drop_column('audit_entries', 'key_version')
