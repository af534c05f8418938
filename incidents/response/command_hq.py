"""The command HQ (专项应急指挥部) of an event: its 总指挥 and members, named by the leadership.

Plan §三(三): for a Ⅰ, Ⅱ or Ⅲ response the leadership group sets up a command HQ led by the deputy
director in charge (总指挥); a Ⅳ response may do without one. Plan §五(一): the HQ (or the deputy
director) declares the end of a 一般 or 较大 event. So the HQ decides who, among the commanders, may
end it (permissions.require_end).

Each naming is a new row and the latest one is in charge; a re-naming never edits or deletes the
earlier rows, so the history shows who led the response when.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.kernel.actors import actor_id
from incidents.kernel.errors import Conflict, InvalidInput
from incidents.kernel.roles import COMMANDER, LEADER
from incidents.kernel.text import checked_text
from incidents.models import ACTIVE, HOLIDAY_WATCH, REGISTERED, CommandHQ, Incident, User
from incidents.people import permissions
from incidents.plan import Plan
from incidents.plan.versions import plan_of
from incidents.records import announce, audit
from incidents.response import service

MAX_MEMBERS = 50
# Who may lead the HQ: the deputy director in charge is a commander; the leadership may lead it itself.
COMMANDER_ROLES = (COMMANDER, LEADER)
# Only an event being registered or under response gets an HQ; an ended one is past it.
OPEN_STATUSES = (REGISTERED, ACTIVE)


def current_hq(session: Session, incident: Incident) -> CommandHQ | None:
    """Return the HQ in charge of the incident (the latest naming), or None when none was named."""
    return session.scalar(select(CommandHQ).where(CommandHQ.incident_id == incident.id)
                          .order_by(CommandHQ.id.desc()).limit(1))


def history(session: Session, incident: Incident) -> list[CommandHQ]:
    """Return every naming of the incident's HQ, oldest first."""
    return list(session.scalars(select(CommandHQ).where(CommandHQ.incident_id == incident.id)
                                .order_by(CommandHQ.id)))


def required(plan: Plan, incident: Incident) -> bool:
    """Tell whether the plan calls for an HQ at the incident's level (Ⅰ–Ⅲ; never before grading)."""
    return incident.level is not None and plan.level(incident.level).command_hq == "required"


def name_hq(session: Session, *, incident_id: int, commander_id: int, member_ids: Iterable[int],
            reason: str | None, actor, now: datetime) -> CommandHQ:
    """Name (or re-name) the event's command HQ: its 总指挥 and members; only the leadership may."""
    incident = service.get_incident(session, incident_id, user=actor, for_update=True)
    plan = plan_of(incident)
    permissions.require(actor, "command_hq", incident, plan)
    if incident.kind == HOLIDAY_WATCH:
        raise Conflict("holiday_watch", "节日市场预警不是应急响应，不成立专项应急指挥部",
                       "a holiday watch is not a response; it has no command HQ")
    if incident.status not in OPEN_STATUSES:
        raise Conflict("not_open", "只有已登记或应急响应中的事件才能指定专项应急指挥部（应急状态已结束、已归档、已作废或已关闭的不能）",
                       "only a registered or active event gets a command HQ; this one has ended, or is archived, "
                       "withdrawn or closed")
    before = current_hq(session, incident)
    reason = checked_text(reason, field="reason", label="更换理由", limit=2000, required=before is not None,
                          clean=True, ask="更换专项应急指挥部须说明") or None
    commander = _commander(session, commander_id)
    members = _members(session, list(member_ids), commander_id)
    if before is not None and before.commander_id == commander.id and before.members == [m.id for m in members]:
        raise InvalidInput("no_change", "与现专项应急指挥部相同，无需重新指定", "the HQ is already so named")
    row = CommandHQ(incident_id=incident.id, commander_id=commander.id, members=[m.id for m in members],
                    named_by_id=actor_id(actor), named_at=now, reason=reason)
    session.add(row)
    session.flush()
    audit.record(session, actor=actor, action="command_hq.named", entity="command_hq", entity_id=row.id,
                 incident_id=incident.id, at=now,
                 data={"commander": commander.id, "commander_name": commander.name,
                       "members": [m.id for m in members], "member_names": [m.name for m in members],
                       "reason": reason, "previous_commander": before.commander_id if before else None})
    announce.incident_changed(session, incident, plan, what="command_hq", at=now)
    return row


def _commander(session: Session, user_id: int) -> User:
    user = session.get(User, user_id) if isinstance(user_id, int) and not isinstance(user_id, bool) else None
    if user is None:
        raise InvalidInput("unknown_user", f"用户 {str(user_id)[:20]} 不存在，不能任总指挥",
                           f"user {str(user_id)[:20]} not found", field="commander")
    if not user.active:
        raise InvalidInput("inactive_user", f"用户“{user.name}”已停用，不能任总指挥", f"user {user.id} is not active",
                           field="commander")
    if user.role not in COMMANDER_ROLES:
        raise InvalidInput("not_a_commander", f"总指挥须由专项应急指挥部或应急领导小组的用户担任，“{user.name}”不是",
                           f"the commander must have the role commander or leader; user {user.id} has not",
                           field="commander")
    return user


def _members(session: Session, ids: list, commander_id: int) -> list[User]:
    if len(ids) > MAX_MEMBERS:
        raise InvalidInput("too_many", f"指挥部成员最多{MAX_MEMBERS}人", f"at most {MAX_MEMBERS} members",
                           field="members")
    if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
        raise InvalidInput("bad_id", "指挥部成员须为用户编号（正整数）", "members must be user ids", field="members")
    if len(set(ids)) != len(ids):
        raise InvalidInput("duplicate_member", "指挥部成员有重复", "a member is listed twice", field="members")
    if commander_id in ids:
        raise InvalidInput("commander_as_member", "总指挥不必再列为成员", "the commander is not also a member",
                           field="members")
    found = {u.id: u for u in session.scalars(select(User).where(User.id.in_(ids)))} if ids else {}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InvalidInput("unknown_user", "以下用户不存在：" + "、".join(str(i) for i in missing[:5]),
                           f"users not found: {', '.join(str(i) for i in missing[:5])}", field="members")
    idle = [found[i].name for i in ids if not found[i].active]
    if idle:
        raise InvalidInput("inactive_user", "以下用户已停用，不能任指挥部成员：" + "、".join(idle[:5]),
                           "inactive users cannot be members", field="members")
    return [found[i] for i in ids]


def hq_view(session: Session, row: CommandHQ | None) -> dict | None:
    """Return an HQ naming as plain data: 总指挥 and members (id and name), when, by whom, why."""
    if row is None:
        return None
    return _views(session, [row])[0]


def history_view(session: Session, incident: Incident) -> list[dict]:
    """Return every naming of the incident's HQ as plain data, oldest first."""
    return _views(session, history(session, incident))


def _views(session: Session, rows: list[CommandHQ]) -> list[dict]:
    ids = {r.commander_id for r in rows} | {r.named_by_id for r in rows if r.named_by_id}
    ids |= {m for r in rows for m in (r.members or [])}
    names = dict(session.execute(select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}

    def person(user_id: int) -> dict:
        return {"id": user_id, "name": names.get(user_id, f"用户{user_id}")}

    return [{"id": r.id, "commander": person(r.commander_id), "members": [person(m) for m in (r.members or [])],
             "named_at": r.named_at, "named_by": names.get(r.named_by_id) if r.named_by_id else None,
             "reason": r.reason} for r in rows]


def candidates(session: Session) -> dict[str, list[dict]]:
    """Return who may be named: 总指挥 (active commanders and leaders) and members (every active user)."""
    people = [{"id": u.id, "name": u.name, "role": u.role}
              for u in session.scalars(select(User).where(User.active.is_(True)).order_by(User.name, User.id))]
    return {"commanders": [p for p in people if p["role"] in COMMANDER_ROLES], "members": people}
