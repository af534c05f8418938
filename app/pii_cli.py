"""`flask pii rotate-key` and `flask pii status`: which key seals the complainants' personal data."""
from __future__ import annotations

import getpass
from collections import Counter

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import text

from app.extensions import yingji
from app.pii_keys import PiiKeyring
from incidents.kernel.actors import SystemActor
from incidents.kernel.roles import ADMIN
from incidents.records import audit

pii_cli = AppGroup("pii", help="Complainants' personal data at rest: the key that seals it.")

# The sealed columns of complaints and their purposes (as incidents/models/complaint.py names them).
SEALED = {"name": "complaints.name", "phone": "complaints.phone", "address": "complaints.address",
          "description": "complaints.description"}
BATCH = 200


def key_counts(session) -> Counter:
    """Count the stored values by the key that sealed them ("" for empty values)."""
    keyring: PiiKeyring = current_app.extensions["yingji_pii"]
    counts: Counter = Counter()
    for row in session.execute(text(f"SELECT {', '.join(SEALED)} FROM complaints")):
        for value in row:
            counts[keyring.key_id_of(value) or ("" if not value else "plaintext")] += 1
    counts.pop("", None)
    return counts


def rotate(sessions, keyring: PiiKeyring, *, now) -> int:
    """Seal again under the current key every complaint with a value under a retired key; return how many."""
    done, after = 0, 0
    columns = ", ".join(SEALED)
    while True:
        with sessions() as session, session.begin():
            # Raw values: the key each one names decides; ORM columns would only show the plain text.
            rows = session.execute(text(f"SELECT id, {columns} FROM complaints WHERE id > :after ORDER BY id "
                                        f"LIMIT :n"), {"after": after, "n": BATCH}).fetchall()
            if not rows:
                return done
            for row in rows:
                values = dict(zip(SEALED, row[1:]))
                if all(keyring.is_current(v) for v in values.values()):
                    continue
                plain = {c: keyring.open(SEALED[c], v) if v else v for c, v in values.items()}
                sealed = {c: keyring.seal(SEALED[c], v) if v else v for c, v in plain.items()}
                session.execute(text("UPDATE complaints SET name = :name, phone = :phone, address = :address, "
                                     "description = :description, phone_hmac = :phone_hmac WHERE id = :id"),
                                {**sealed, "id": row[0], "phone_hmac": keyring.blind(SEALED["phone"], plain["phone"])
                                 if plain["phone"] else None})
                done += 1
            after = rows[-1][0]
            if done:
                audit.record(session, actor=SystemActor(name=f"cli:{getpass.getuser()}", role=ADMIN),
                             action="pii.key_rotated", entity="complaints", entity_id=after, at=now,
                             data={"key": keyring.current.key_id, "complaints_so_far": done})


@pii_cli.command("rotate-key")
def rotate_key() -> None:
    """Seal every complainant's data again under PII_KEY (the old key in PII_RETIRED_KEYS until this is done)."""
    wiring = yingji()
    keyring: PiiKeyring = current_app.extensions["yingji_pii"]
    count = rotate(wiring.sessions, keyring, now=wiring.clock.now())
    with wiring.sessions() as session:
        left = {k: n for k, n in key_counts(session).items() if k != keyring.current.key_id}
    click.echo(f"已用新密钥 {keyring.current.key_id} 重新加密 {count} 件投诉举报的个人信息 / "
               f"re-sealed the personal data of {count} complaints under {keyring.current.key_id}")
    if left:
        raise click.ClickException(f"仍有数据未使用当前密钥 / values not under the current key remain: {left}")
    click.echo("可以从 PII_RETIRED_KEYS 中删除旧密钥 / the old keys may now leave PII_RETIRED_KEYS")


@pii_cli.command("status")
def status() -> None:
    """Show how many stored values each key sealed."""
    keyring: PiiKeyring = current_app.extensions["yingji_pii"]
    with yingji().sessions() as session:
        counts = key_counts(session)
    click.echo(f"current key: {keyring.current.key_id}")
    for key_id, n in sorted(counts.items()):
        click.echo(f"{key_id}\t{n}" + ("\t(current)" if key_id == keyring.current.key_id else ""))


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(pii_cli)
