"""The clocks job: fire the clock stages that are due, deliver what was fired, walk the escalations."""
from __future__ import annotations

from flask import Flask

from app.extensions import Yingji
from incidents.response.firing import dispatch_pending, fire_due
from notifiers import registry
from notifiers.console import ConsoleSender
from notifiers.escalation import Walker


def senders_for(app: Flask) -> list:
    """Return the senders that log each fired clock (the escalation walker does SMS and calls)."""
    return [ConsoleSender()]


def walker_for(app: Flask, *, workers: int | None = None) -> Walker:
    """Return the escalation walker with the SMS and voice senders the settings ask for."""
    wiring: Yingji = app.extensions["yingji"]
    settings = registry.settings_from(app.config)
    for kind in ("sms", "voice"):
        registry.build(kind, settings)  # fail at start, not at 3 a.m., when the settings are wrong
    return Walker(wiring.sessions, lambda kind: registry.build(kind, settings), rules=lambda: wiring.plan.delivery,
                  clock=wiring.clock.now, workers=workers or app.config.get("ESCALATION_WORKERS", 8),
                  batch=app.config.get("SCHEDULER_BATCH", 500))


def tick(wiring: Yingji, deliver, *, walker: Walker | None = None, batch: int = 500) -> int:
    """Fire every clock stage that is due now, deliver what was fired, walk the escalations; return the firings."""
    fired = fire_due(wiring.sessions, now=wiring.clock.now, batch=batch)
    dispatch_pending(wiring.sessions, deliver, now=wiring.clock.now(), batch=batch)
    if walker is not None:
        walker.cycle()
    return fired
