"""The JSON API under /api/v1."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from app.api import assignments, calendar, complaints, duty, escalations, idempotency, inbox, incidents, openapi, plan, report_records, reports, sessions, users, audit_trail  # noqa: E402,F401  (routes register on import)
