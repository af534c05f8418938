"""The plan as the API shows it, and the level suggestion for a category."""
from __future__ import annotations

from flask import jsonify, request

from app.api import bp
from app.auth import api_login_required
from app.extensions import yingji
from incidents.kernel.errors import InvalidInput
from incidents.response.grading import suggest
from incidents.kernel.durations import format_duration


@bp.get("/plan")
@api_login_required
def get_plan():
    """Return the plan in force: levels, clocks, departments, stations, categories."""
    plan = yingji().plan
    return jsonify({
        "id": plan.id, "version": plan.version, "title": plan.title, "bureau": plan.bureau,
        "sha256": plan.sha256, "timezone": plan.timezone,
        "levels": [{"code": lv.code, "numeral": lv.numeral, "name": lv.name, "colour": lv.colour,
                    "hints": list(lv.hints), "command_hq": lv.command_hq,
                    "end_declared_by": list(lv.end_declared_by)} for lv in plan.levels],
        "clocks": [{"kind": c.kind, "name": c.name, "basis": c.basis, "starts_on": c.starts_on,
                    "due_after": {lv: format_duration(d) for lv, d in c.due_after}, "repeats": c.repeats,
                    "responsible": c.responsible, "satisfied_by": c.satisfied_by,
                    "warn_before": [format_duration(w) for w in c.warn_before],
                    "applies": [{"levels": sorted(a.levels),
                                 "categories": sorted(a.categories) if a.categories is not None else None,
                                 "categories_except": sorted(a.categories_except)} for a in c.applies]}
                   for c in plan.clocks],
        "departments": [{"code": d.code, "name": d.name, "domain": d.domain} for d in plan.departments],
        "support_departments": list(plan.support_departments),
        "stations": [{"code": s.code, "name": s.name} for s in plan.stations],
        "categories": [{"code": c.code, "name": c.name, "lead_department": c.lead_department,
                        "suggested_level": c.suggested_level} for c in plan.categories],
    })


@bp.get("/plan/suggest")
@api_login_required
def get_suggestion():
    """Suggest a level and lead department for a category."""
    code = request.args.get("category", "")
    try:
        s = suggest(yingji().plan, code)
    except KeyError:
        raise InvalidInput("unknown_category", f"预案中没有事件类别“{code}”", f"unknown category '{code}'",
                           field="category") from None
    return jsonify({"category": s.category, "level": s.level, "lead_department": s.lead_department,
                    "support_departments": list(s.support_departments), "hints": list(s.hints)})
