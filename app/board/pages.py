"""Page routes; each parses, authorises, calls the domain and renders."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import select

from app.auth import current_user, page_login_required
from app.extensions import db, now, yingji
from app.api import serialize
from incidents import permissions, service
from incidents.models import ARCHIVED, Incident


from app.board import bp


@bp.get("/")
@page_login_required
def index():
    """Show every open incident the user may see, most severe first, with its clocks."""
    user = current_user()
    rows = db().scalars(select(Incident).where(Incident.status != ARCHIVED).order_by(Incident.id.desc()))
    visible = [i for i in rows if permissions.can_view(user, i, service.plan_of(i))]
    return render_template("index.html", incidents=[serialize.incident(i, now()) for i in visible],
                           plan=yingji().plan, user=user)
