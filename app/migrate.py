"""Alembic, driven from the app's settings (no alembic.ini needed)."""
from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import ROOT
from incidents.kernel.db import normalise_url, private_sqlite_file


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config for the project's migrations and this database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to a revision."""
    private_sqlite_file(database_url)  # `make run` migrates first: the file is born 0600
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to a revision."""
    command.downgrade(alembic_config(database_url), revision)
