"""Escalation endpoints: the history of an incident's escalations, and acknowledging one on the board."""
from __future__ import annotations

from flask import jsonify

from app.api import bp
from app.auth import api_login_required, current_user
from app.extensions import db, now
from incidents import escalation
from incidents.response import service


@bp.get("/incidents/<int:incident_id>/escalations")
@api_login_required
def list_escalations(incident_id: int):
    """Every escalation of an incident with every delivery (who, channel, status), phones masked."""
    service.get_incident(db(), incident_id, user=current_user())  # 404 for one the user may not see
    return jsonify({"escalations": escalation.history(db(), incident_id)})


@bp.post("/escalations/<int:escalation_id>/ack")
@api_login_required
def ack_escalation(escalation_id: int):
    """Acknowledge a running escalation (a clock's reminder, or an assignment's) on the board."""
    session = db()
    row = escalation.acknowledge(session, escalation_id, by=current_user(), now=now())
    session.commit()
    return jsonify(escalation.summary(row))
