"""The plan an incident runs under: the copy stored when it was registered, never the file in force now."""
from __future__ import annotations

from typing import Protocol

from incidents.plan.loading import plan_from_stored_text
from incidents.plan.model import Plan


class _Stored(Protocol):
    content: str


class _Governed(Protocol):
    plan_version: _Stored


def plan_of(incident: _Governed) -> Plan:
    """Return the plan version the incident was registered and graded under."""
    return plan_from_stored_text(incident.plan_version.content)
