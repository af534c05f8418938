"""The objects the app shares between requests: database, plan, clock."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from incidents.records import audit
from incidents.kernel.clock import Clock
from incidents.plan import Plan


@dataclass
class Yingji:
    """Everything wired once per app."""

    engine: Engine
    sessions: sessionmaker
    plan: Plan
    clock: Clock
    scheduler: Any = None
    # The audit chain's keyring (app/audit_keys.py): the key lives here, never in the database.
    audit_keys: Any = None
    # Pushes committed board events to the live boards; set by app.push (a no-op until then).
    emit: Callable[[list[dict]], None] = lambda _messages: None


def yingji() -> Yingji:
    """Return the wiring of the current app."""
    return current_app.extensions["yingji"]


def db() -> Session:
    """Return this request's database session, opening it on first use."""
    if "db" not in g:
        g.db = yingji().sessions()
    return g.db


def close_db(_exc: BaseException | None = None) -> None:
    """Close the request's session; anything not committed is rolled back."""
    session = g.pop("db", None)
    if session is not None:
        audit.discard_pending(session)
        session.close()


def now():
    """Return the current time from the app's clock."""
    return yingji().clock.now()
