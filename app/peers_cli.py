"""`flask peers …`: the other bureaus that run Yingji, this bureau's own key, and sending what is due."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app import peering
from app.extensions import yingji
from app.jobs import sending as sending_job
from incidents.kernel.actors import SystemActor
from incidents.response import peers
from notifiers import peer_keys

peers_cli = AppGroup("peers", help="Bureaus that report to each other through Yingji: keys and addresses.")
CLI_ACTOR = SystemActor(name="cli")


@peers_cli.command("key")
def peers_key() -> None:
    """Print this bureau's code, key id, public key and fingerprint, for the other bureaus to register."""
    me = peering.identity(current_app)
    click.echo(f"code\t{me.code}\nname\t{me.name}\nkey-id\t{me.key_id}\npublic-key\t{me.public_key()}\n"
               f"fingerprint\t{me.fingerprint()}")


@peers_cli.command("new-key")
def peers_new_key() -> None:
    """Print a new Ed25519 private key (PEM) for PEER_PRIVATE_KEY_FILE; keep it 0600 and never in the repo."""
    click.echo(peer_keys.private_key_to_pem(peer_keys.generate_private_key()), nl=False)


@peers_cli.command("add")
@click.argument("code")
@click.option("--name", required=True, help="the bureau's name, e.g. 郑州市市场监督管理局")
@click.option("--url", default=None, help="its Yingji's base URL (omit for a bureau that only sends here)")
@click.option("--key-id", default=None, help="the key id it signs with (from its `flask peers key`)")
@click.option("--public-key", default=None, help="its public key (base64, from its `flask peers key`)")
def peers_add(code: str, name: str, url: str | None, key_id: str | None, public_key: str | None) -> None:
    """Register a bureau, or change its address or key; print the key's fingerprint to read back to it."""
    if (key_id is None) != (public_key is None):
        raise click.UsageError("give --key-id and --public-key together")
    fingerprint = None
    if public_key is not None:
        try:
            fingerprint = peer_keys.fingerprint(peer_keys.load_public_key(public_key))
        except ValueError as error:
            raise click.UsageError(f"not an Ed25519 public key: {error}") from None
    wiring = yingji()
    with wiring.sessions() as session:
        row = peers.add(session, code=code, name=name, url=url, key_id=key_id, public_key=public_key,
                        actor=CLI_ACTOR, now=wiring.clock.now())
        session.commit()
        click.echo(f"registered {row.code} ({row.name}) at {row.url or '-'}"
                   + (f"; key {key_id}, fingerprint {fingerprint}" if fingerprint else "; no key: it cannot send here"))


@peers_cli.command("list")
def peers_list() -> None:
    """List the registered bureaus: code, name, address, key id, state."""
    wiring = yingji()
    with wiring.sessions() as session:
        for row in peers.listed(session):
            state = "revoked" if row.revoked_at else "active"
            click.echo(f"{row.code}\t{row.name}\t{row.url or '-'}\t{row.key_id or '-'}\t{state}")


@peers_cli.command("revoke")
@click.argument("code")
def peers_revoke(code: str) -> None:
    """Refuse a bureau's requests from now on (its key no longer verifies) and stop sending to it."""
    wiring = yingji()
    with wiring.sessions() as session:
        peers.revoke(session, code, actor=CLI_ACTOR, now=wiring.clock.now())
        session.commit()
    click.echo(f"revoked {code}")


@peers_cli.command("send")
def peers_send() -> None:
    """Send what is due to other bureaus and by e-mail now (the scheduler does it every DISPATCH_EVERY)."""
    click.echo(f"delivered {sending_job.send_due(current_app)}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(peers_cli)
