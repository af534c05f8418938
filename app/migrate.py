"""Alembic, driven from the app's settings (no alembic.ini needed)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from app import config as config_module
from app import pii_keys
from app.config import ROOT
from incidents.kernel.db import normalise_url, private_sqlite_file


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for the project's migrations and this database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return cfg


def _environment_keyring() -> pii_keys.PiiKeyring:
    """Return the PII keyring of the environment's settings (the local demo's generated key without PII_KEY)."""
    settings = config_module.from_environment()
    settings["PII_KEY"] = settings["PII_KEY"] or config_module.pii_key()
    return pii_keys.keyring_from(settings)


def _with_keyring(cfg: Config, keyring: pii_keys.PiiKeyring | None) -> Config:
    # Asked only by a migration that has personal data to seal or open (0017): an empty database
    # is migrated without any key.
    cfg.attributes["pii_keyring"] = (lambda: keyring) if keyring is not None else _environment_keyring
    return cfg


def upgrade(database_url: str, revision: str = "head", *, pii: pii_keys.PiiKeyring | None = None) -> None:
    """Migrate the database up to a revision; `pii` seals the personal data already stored (default: the environment's key)."""
    private_sqlite_file(database_url)  # `make run` migrates first: the file is born 0600
    command.upgrade(_with_keyring(alembic_config(database_url), pii), revision)


def downgrade(database_url: str, revision: str, *, pii: pii_keys.PiiKeyring | None = None) -> None:
    """Migrate the database down to a revision; `pii` opens the sealed personal data (default: the environment's key)."""
    command.downgrade(_with_keyring(alembic_config(database_url), pii), revision)
