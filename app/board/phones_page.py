"""The alert phones page (告警电话): the office (every unit) and a department head (their own unit) see the
people's alert phones masked and change one; the old number is told by SMS (app/api/users.py set_phone)."""
from __future__ import annotations

from flask import render_template, request

from app.api.users import get_user, set_phone
from app.auth import current_user, page_login_required
from app.board import bp
from app.extensions import db, yingji
from incidents.kernel.errors import Forbidden, InvalidInput, NotFound
from incidents.kernel.masking import mask_phone
from incidents.kernel.roles import ROLES
from incidents.people import permissions
from incidents.people.users import PHONE, may_change_phone, phone_people

NO_UNIT = "无所属单位"


def _groups(people) -> list[dict]:
    """Group the people by unit in the plan's order (departments, then stations), those without a unit last."""
    plan = yingji().plan
    order = [d.code for d in plan.departments] + [s.code for s in plan.stations]
    by_unit: dict[str | None, list[dict]] = {}
    for user in people:
        by_unit.setdefault(user.unit, []).append(
            {"id": user.id, "name": user.name, "role_name": ROLES.get(user.role, user.role),
             "phone_masked": mask_phone(user.phone) if user.phone else None})
    units = sorted(by_unit, key=lambda u: (u is None, order.index(u) if u in order else len(order), u or ""))
    return [{"unit": u, "name": plan.unit_name(u) if u and plan.has_unit(u) else (u or NO_UNIT),
             "people": by_unit[u]} for u in units]


def _page(done: dict | None = None, error: str | None = None, failed_id: int | None = None, status: int = 200):
    user = current_user()
    permissions.require(user, "change_phone")
    return render_template("phones.html", groups=_groups(phone_people(db(), user)), done=done, error=error,
                           failed_id=failed_id, all_units=user.role == "office", active="phones"), status


@bp.get("/phones")
@page_login_required
def phones_page():
    """List the people whose alert phone the signed-in office or department head may change, phones masked."""
    return _page()


@bp.post("/phones/<int:user_id>")
@page_login_required
def phones_change(user_id: int):
    """Change one person's alert phone after the confirmation that the old number will be told by SMS."""
    me = current_user()
    permissions.require(me, "change_phone")
    user = get_user(user_id)
    if not user.active:
        raise NotFound("not_found", f"用户 {user_id} 不存在", f"user {user_id} not found")
    if not may_change_phone(me, user):  # refused before the form is even read (set_phone checks it again)
        raise Forbidden("forbidden", "只有应急办公室或本单位科室负责人可以修改告警电话",
                        "only the office or the head of the user's own unit may change an alert phone")
    phone = (request.form.get("phone") or "").strip()
    try:
        if not phone:
            raise InvalidInput("missing_field", "请填写新的告警电话", "phone is required", field="phone")
        if not PHONE.match(phone):
            raise InvalidInput("bad_phone", "电话号码须为国际格式，如 +8613800000000",
                               "phone must be in international format", field="phone")
        if request.form.get("confirm") != "yes":
            raise InvalidInput("not_confirmed", "请先勾选确认：修改后将以短信告知原号码",
                               "confirm that the old number will be told by SMS", field="confirm")
    except InvalidInput as exc:
        return _page(error=exc.message_zh, failed_id=user.id, status=400)
    result = set_phone(user, phone)
    return _page(done={**result, "name": user.name})
