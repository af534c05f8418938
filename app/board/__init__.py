"""Browser pages: the overview, the duty boards, the incident page and its forms, registration, accountability."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app

from app.auth import current_user
from app.board import incident_forms, presenters
from app.board.presenters import unit_name
from incidents.kernel.moments import zone
from incidents.kernel.roles import ROLES

# The app keeps Flask's own /static/<path> rule (app/static, which does not exist) and it
# matches first, so the board's files live one level down: /static/board/board.css.
bp = Blueprint("board", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static/board")

# What the plan's time zone is called on screen; another zone is shown by its name.
ZONE_NAMES = {"Asia/Shanghai": "北京时间"}


def plan_zone() -> tuple[ZoneInfo, str]:
    """Return the plan's time zone and what it is called on screen."""
    name = current_app.extensions["yingji"].plan.timezone
    return zone(name), ZONE_NAMES.get(name, name)


@bp.app_template_filter("localtime")
def localtime(moment: datetime | str | None, zone: bool = True, seconds: bool = False) -> str:
    """Format a UTC time in the plan's zone (Beijing time): 2026-11-20 09:00 (北京时间)."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    if moment is None:
        return "—"
    tz, label = plan_zone()
    text = moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
    return f"{text} ({label})" if zone else text


@bp.app_template_filter("localdate")
def localdate(moment: datetime | None) -> str:
    """Format the date of a UTC time in the plan's zone: 2026-11-20."""
    return moment.astimezone(plan_zone()[0]).strftime("%Y-%m-%d") if moment else "—"


@bp.app_template_global("zone_label")
def zone_label() -> str:
    """Return the on-screen name of the plan's time zone (北京时间)."""
    return plan_zone()[1]


@bp.app_template_global("signed_in_user")
def signed_in_user():
    """Return the signed-in user for the page header, or None (error pages too)."""
    try:
        return current_user()
    except Exception:  # noqa: BLE001 - an error page must render even when the database is down
        return None


@bp.app_template_global("role_name")
def role_name(code: str | None) -> str:
    """Return a role's Chinese name (应急办公室)."""
    return ROLES.get(code or "", code or "")


@bp.app_template_global("plan_unit_name")
def plan_unit_name(code: str | None) -> str:
    """Return the Chinese name of a department or station of the plan in force."""
    return unit_name(current_app.extensions["yingji"].plan, code)


@bp.app_template_global("may_decide_decline")
def may_decide_decline(user) -> bool:
    """Tell whether the user may approve or reject a department's decline (the 同意/不同意 buttons)."""
    return presenters.may_decide_decline(user)


@bp.app_template_global("dispatch_alert_text")
def dispatch_alert_text(d: dict) -> str:
    """Say a report's sending refused for good, as the office's board alerts it."""
    return presenters.dispatch_alert_text(d)


@bp.app_template_global("may_register")
def may_register(user) -> bool:
    """Tell whether the user's role may register an incident (the header's link)."""
    return incident_forms.may_register(user)


@bp.app_context_processor
def inject_plan() -> dict:
    """Give every template, the login and error pages too, the plan in force."""
    plan = current_app.extensions["yingji"].plan
    # The earliest time a form takes (the plan's year, Beijing time), for datetime-local inputs' min.
    return {"plan": plan, "plan_min_local": plan.in_force_from().strftime("%Y-%m-%dT%H:%M")}


# The page routes register on this blueprint from their own modules.
from app.board import admin_page, calendar_page, complaint_pages, pages, phones_page, sessions_page  # noqa: E402,F401
