"""Who may do what: roles per action, units for duty officers and stations, and the actions a limited token names."""
from __future__ import annotations

from typing import Iterable, Protocol

from incidents.kernel.errors import Forbidden
from incidents.models import Incident
from incidents.plan import Level, Plan
from incidents.kernel.roles import (
    ADMIN,
    ADMINISTRATOR_ROLES,
    AUDITOR,
    COMMANDER,
    DEPARTMENT_HEAD,
    DEPARTMENT_ROLES,
    DUTY_OFFICER,
    LEADER,
    OFFICE,
    ROLES,
    SECADMIN,
    STATION,
    SYSADMIN,
    SYSTEM,
    VIEWER,
)


class Principal(Protocol):
    """The acting user as permissions see it.

    A principal acting through a limited credential (an API token of scope `actions`) also carries
    the actions it is limited to, as the attribute TOKEN_ACTIONS (see `limit_to` and `action_limit`).
    """

    id: int
    name: str
    role: str
    unit: str | None


# The attribute a limited principal carries: the frozenset of action codes its credential names.
TOKEN_ACTIONS = "token_actions"


# Roles per action. The end of an emergency is not here: the plan says who, per level.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "register": frozenset({STATION, OFFICE, COMMANDER, LEADER, DUTY_OFFICER, DEPARTMENT_HEAD}),
    "grade": frozenset({OFFICE, COMMANDER, LEADER}),
    "activate": frozenset({LEADER}),
    # The unit that registered a station-less event owns its 1-hour report (a department too).
    "report:initial": frozenset({STATION, OFFICE, DUTY_OFFICER, DEPARTMENT_HEAD}),
    "report:bureau": frozenset({OFFICE, LEADER}),
    "report:progress": frozenset({OFFICE, COMMANDER, DUTY_OFFICER, DEPARTMENT_HEAD}),
    # The command's handling summary to the leadership (plan §五(一)), before the end.
    "report:summary": frozenset({OFFICE, COMMANDER, DUTY_OFFICER, DEPARTMENT_HEAD}),
    # The bureau's written report to the government and the city bureau after the end, and its deliveries.
    "report:closing": frozenset({OFFICE, LEADER}),
    "deliver": frozenset({OFFICE, LEADER}),
    # A report from another bureau's Yingji is signed for (签收) by the office or the leadership.
    "receive": frozenset({OFFICE, LEADER}),
    # A backdated claim (补录) is judged by the leadership or the office's head (checked against the plan).
    "review_claim": frozenset({LEADER, DEPARTMENT_HEAD}),
    "report:measure": frozenset({OFFICE, COMMANDER, DUTY_OFFICER, DEPARTMENT_HEAD}),
    "archive": frozenset({OFFICE, LEADER}),
    # A station corrects its own registration until it is graded (corrections.py); the office any time.
    "correct": frozenset({OFFICE, STATION}),
    "withdraw": frozenset({OFFICE, LEADER}),
    # Closing an event never activated (dispositions.py): only the leadership decides not to activate
    # (plan §二(三)3); the office, which verifies reports, may also find one false or a duplicate.
    "close:not_activated": frozenset({LEADER}),
    "close:false_report": frozenset({OFFICE, LEADER}),
    "close:duplicate": frozenset({OFFICE, LEADER}),
    # Plan §三(三): the leadership group sets up the command HQ (专项应急指挥部) and names its 总指挥.
    "command_hq": frozenset({LEADER}),
    "accountability": frozenset({ADMIN, LEADER, COMMANDER, OFFICE, VIEWER, DUTY_OFFICER, DEPARTMENT_HEAD, STATION}),
    # 三权分立: the system administrator keeps the accounts, the security administrator their keys and
    # sessions, the audit administrator reads the trail; `admin` is kept as a system administrator.
    "manage_users": frozenset({ADMIN, SYSADMIN}),
    "list_users": frozenset({ADMIN, SYSADMIN, SECADMIN}),
    "manage_tokens": frozenset({SECADMIN}),
    "manage_sessions": frozenset({SECADMIN}),
    "read_audit": frozenset({AUDITOR}),
    # A user's alert phone: the office, or the head of the user's own unit (checked in users.change_phone).
    "change_phone": frozenset({OFFICE, DEPARTMENT_HEAD}),
}

ACTION_NAMES = {
    "register": ("登记事件", "register an incident"),
    "grade": ("定级", "grade an incident"),
    "activate": ("启动应急响应", "activate the response"),
    "report:initial": ("报送事发地初报", "file the station's initial report"),
    "report:bureau": ("报送局报告", "file the bureau's report"),
    "report:progress": ("报送续报", "file a progress report"),
    "report:summary": ("报送应急处置工作总结", "file the handling summary"),
    "report:closing": ("上报书面报告", "file the written report to the government and the city bureau"),
    "deliver": ("登记报告送达", "record a report's delivery"),
    "receive": ("签收来文", "sign for a report from another bureau"),
    "review_claim": ("确认补录时间", "review a backdated claim"),
    "report:measure": ("报告措施完成", "report a measure done"),
    "archive": ("归档", "archive an incident"),
    "correct": ("更正登记信息", "correct the registration"),
    "withdraw": ("作废登记", "withdraw a registration"),
    "close:not_activated": ("决定不启动应急响应并关闭事件", "decide not to activate and close the event"),
    "close:false_report": ("以不属实关闭事件", "close the event as a false report"),
    "close:duplicate": ("以重复登记关闭事件", "close the event as a duplicate"),
    "command_hq": ("指定专项应急指挥部", "name the command HQ"),
    "accountability": ("查看迟报漏报情况", "view accountability"),
    "manage_users": ("管理用户", "manage users"),
    "list_users": ("查看用户列表", "list users"),
    "manage_tokens": ("管理API令牌", "manage API tokens"),
    "manage_sessions": ("管理登录会话", "manage login sessions"),
    "read_audit": ("查阅审计记录", "read the audit trail"),
    "change_phone": ("修改告警电话", "change an alert phone"),
}


def role_actions(role: str) -> tuple[str, ...]:
    """Return the action codes a role may do, in the order of ACTION_ROLES."""
    return tuple(a for a, roles in ACTION_ROLES.items() if role in roles)


def limit_to(user: Principal, actions: Iterable[str]) -> None:
    """Limit this principal object to these actions (a write through an `actions` API token).

    Set on the one object the caller acts with (a request's own user row), never stored.
    """
    setattr(user, TOKEN_ACTIONS, frozenset(actions))


def action_limit(user: Principal) -> frozenset[str] | None:
    """Return the actions a limited principal may do, or None when its role alone decides."""
    limit = getattr(user, TOKEN_ACTIONS, None)
    return None if limit is None else frozenset(limit)


def _limited(limit: frozenset[str], action_zh: str, action_en: str) -> Forbidden:
    names = "、".join(ACTION_NAMES[a][0] for a in ACTION_ROLES if a in limit) or "—"
    return Forbidden("token_action", f"该API令牌只限于以下操作：{names}，不能{action_zh}",
                     f"this API token is limited to {', '.join(sorted(limit)) or 'nothing'}: it may not {action_en}")


def _deny(action_zh: str, action_en: str, role: str, why_zh: str = "", why_en: str = "") -> Forbidden:
    return Forbidden(
        "forbidden",
        f"角色“{ROLES.get(role, role)}”无权{action_zh}{why_zh}",
        f"role '{role}' may not {action_en}{why_en}",
    )


def require(user: Principal, action: str, incident: Incident | None = None, plan: Plan | None = None) -> None:
    """Raise Forbidden unless the user's role and unit allow the action on the incident."""
    zh, en = ACTION_NAMES[action]
    if user.role == SYSTEM:
        return  # the plan itself acting (a holiday watch); never a person
    limit = action_limit(user)
    if limit is not None and action not in limit:
        raise _limited(limit, zh, en)
    if user.role not in ACTION_ROLES[action]:
        raise _deny(zh, en, user.role)
    if incident is not None and plan is not None:
        if user.role == STATION and incident.station != user.unit:
            raise _deny(zh, en, user.role, "(非本所事件)", " (not this station's incident)")
        if user.role in DEPARTMENT_ROLES and action == "report:initial" and incident.registered_unit != user.unit:
            raise _deny(zh, en, user.role, "(事发地初报由登记单位报送)", " (the registering unit files it)")
        if (user.role in DEPARTMENT_ROLES and incident.lead_department != user.unit
                and action not in ("report:measure", "review_claim", "report:initial")):
            raise _deny(zh, en, user.role, "(本科室不是牵头科室)", " (not the lead department)")
        if user.role in DEPARTMENT_ROLES and not can_view(user, incident, plan):
            raise _deny(zh, en, user.role, "(非本科室事件)", " (not this department's incident)")


def require_end(user: Principal, incident: Incident, plan: Plan, hq_commander_id: int | None = None) -> None:
    """Raise Forbidden unless the plan's enders for the level, and the command HQ in charge, let this user end it.

    `hq_commander_id` is the 总指挥 of the HQ in charge (None: no HQ named); see `end_refusal`.
    """
    refusal = end_refusal(user, plan.level(incident.level) if incident.level else None, hq_commander_id)
    if refusal is not None:
        raise refusal


def end_refusal(user: Principal, level: Level | None, hq_commander_id: int | None) -> Forbidden | None:
    """Return why the user may not declare the end at this level under this HQ, or None when they may.

    The role must be one the plan names for the level (§五(一)). Where an HQ is named, a commander ends
    the emergency only as its 总指挥; where the level calls for one (Ⅰ–Ⅲ, §三(三)) and none is named,
    no commander does (the leadership still may); at Ⅳ any commander may, HQ or not. A principal
    limited to named actions never may: the end is no action a token can name.
    """
    limit = action_limit(user)
    if limit is not None:
        return _limited(limit, "宣布应急状态结束", "declare the end of the emergency")
    allowed = level.end_declared_by if level else ()
    if user.role not in allowed:
        names = "、".join(ROLES[r] for r in allowed) or "—"
        numeral = level.numeral if level else "未定级"
        return Forbidden(
            "forbidden",
            f"{numeral}级事件的应急状态结束须由{names}宣布，角色“{ROLES.get(user.role, user.role)}”无权宣布",
            f"at level {level.code if level else None} only {', '.join(allowed)} may declare the end; "
            f"not '{user.role}'",
        )
    if user.role != COMMANDER:
        return None
    if hq_commander_id is not None and hq_commander_id != user.id:
        return Forbidden(
            "not_hq_commander",
            "本事件已成立专项应急指挥部，只有指定的总指挥可以宣布应急状态结束",
            "a command HQ is named for this incident: only its commander may declare the end",
        )
    if hq_commander_id is None and level.command_hq == "required":
        return Forbidden(
            "no_command_hq",
            f"{level.numeral}级响应须成立专项应急指挥部：请应急领导小组先指定总指挥，只有指定的总指挥可以宣布应急状态结束",
            f"a level {level.code} response needs a command HQ: the leadership names its commander first, "
            "and only that commander may declare the end",
        )
    return None


def can_view(user: Principal, incident: Incident, plan: Plan) -> bool:
    """Tell whether the user may see the incident at all."""
    if user.role == SYSTEM:
        return True
    if user.role == STATION:
        return incident.station == user.unit
    if user.role in DEPARTMENT_ROLES:
        if user.unit == incident.lead_department or incident.created_by_id == user.id:
            return True
        if incident.activated_at is not None and user.unit in plan.support_departments:
            return True
        return any(d.department == user.unit for d in incident.deadlines) or any(
            a.department == user.unit for a in incident.assignments)
    return user.role in ROLES and user.role not in ADMINISTRATOR_ROLES
