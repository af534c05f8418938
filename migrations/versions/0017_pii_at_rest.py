"""Complainants' personal data at rest: name, phone, address and free text sealed, the phone's keyed HMAC.

The four columns become TEXT (a sealed value is longer than the plain one) and every existing row is
sealed with the application's PII key (AES-256-GCM or SM4-GCM, app/pii_keys.py); `phone_hmac` holds
the phone's keyed HMAC for searches. The key never reaches the database: `app.migrate.upgrade` (and
so `flask db upgrade`) hands this migration the keyring in `config.attributes["pii_keyring"]`, a
callable asked only when there are rows to convert, so an empty database needs no key. Downgrading
opens every value again (with the same key) and puts the old column types back.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 18:00:00
"""
from __future__ import annotations

from alembic import context, op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# Frozen here: the columns sealed, each with its purpose (the GCM associated data), and their old types.
SEALED = {"name": ("complaints.name", 80), "phone": ("complaints.phone", 20),
          "address": ("complaints.address", 300), "description": ("complaints.description", None)}
PREFIX = "pii1:"
BATCH = 500


def _keyring():
    supplier = context.config.attributes.get("pii_keyring")
    keyring = supplier() if callable(supplier) else supplier
    if keyring is None:
        raise RuntimeError("0017 seals the complainants' personal data and needs the PII key: "
                           "run `flask db upgrade` (or app.migrate.upgrade), which hands it over")
    return keyring


def _rows(bind, after: int):
    return bind.execute(sa.text("SELECT id, name, phone, address, description FROM complaints WHERE id > :after "
                                "ORDER BY id LIMIT :n"), {"after": after, "n": BATCH}).fetchall()


def _convert(seal: bool) -> None:
    bind = op.get_bind()
    if not bind.execute(sa.text("SELECT count(*) FROM complaints")).scalar_one():
        return
    keyring = _keyring()
    after = 0
    while True:
        rows = _rows(bind, after)
        if not rows:
            break
        for row in rows:
            values = dict(zip(("name", "phone", "address", "description"), row[1:]))
            new = {}
            for column, (purpose, _length) in SEALED.items():
                value = values[column]
                if not value:
                    new[column] = value
                elif seal:
                    new[column] = value if value.startswith(PREFIX) else keyring.seal(purpose, value)
                else:
                    new[column] = keyring.open(purpose, value) if value.startswith(PREFIX) else value
            plain_phone = values["phone"] if not seal or not (values["phone"] or "").startswith(PREFIX) \
                else keyring.open("complaints.phone", values["phone"])
            sets = ", ".join(f"{c} = :{c}" for c in new)
            if seal:
                new["phone_hmac"] = keyring.blind("complaints.phone", plain_phone) if plain_phone else None
                sets += ", phone_hmac = :phone_hmac"
            bind.execute(sa.text(f"UPDATE complaints SET {sets} WHERE id = :id"), {**new, "id": row[0]})
        after = rows[-1][0]


def upgrade() -> None:
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        for column in ("name", "phone", "address"):
            batch_op.alter_column(column, existing_type=sa.String(length=SEALED[column][1]), type_=sa.Text(),
                                  existing_nullable=False)
        batch_op.add_column(sa.Column('phone_hmac', sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f('ix_complaints_phone_hmac'), ['phone_hmac'], unique=False)
    _convert(seal=True)


def downgrade() -> None:
    _convert(seal=False)
    with op.batch_alter_table('complaints', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_complaints_phone_hmac'))
        batch_op.drop_column('phone_hmac')
        for column in ("name", "phone", "address"):
            batch_op.alter_column(column, existing_type=sa.Text(), type_=sa.String(length=SEALED[column][1]),
                                  existing_nullable=False)
