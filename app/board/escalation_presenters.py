"""What the boards show of escalations (升级通知): entries per incident, chains in words, the board's alarms."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Iterable

from sqlalchemy.orm import Session

from app.board.presenters import level_view, parse_time, unit_name
from incidents import escalation
from incidents.kernel import labels
from incidents.kernel.durations import chinese_duration
from incidents.models import FINISHED, OVERDUE, PENDING, PUSHED, Escalation, Incident
from incidents.plan import LEVEL_CODES, Plan
from incidents.response.service import plan_of

# Deliveries that reached (or were handed to) the provider: what a board calls "notified".
NOTIFIED = ("sending", "queued", "sent", "delivered", "unknown", "bundled")


def escalation_entries(session: Session, incident: Incident, *, department: str | None = None,
                       with_content: bool = True) -> list[dict]:
    """Return an incident's escalations with their deliveries, for the incident page and the boards.

    Each is escalation.history's entry plus Chinese names (unit, audience, purpose, acknowledging
    channel) and `open`: whether its item still waits for someone (the assignment still pushed,
    the clock still running or overdue, the emergency not ended). An exhausted escalation whose
    item was handled later is no longer an alarm. `department` keeps that unit's only.
    """
    plan = plan_of(incident)
    pushed = {a.id for a in incident.assignments if a.status == PUSHED}
    running = {d.id for d in incident.deadlines if d.status in (PENDING, OVERDUE)}
    live = incident.status in escalation.LIVE_INCIDENT
    out = []
    for e in escalation.history(session, incident.id):
        if department is not None and e["department"] != department:
            continue
        item_open = e["assignment_id"] in pushed if e["assignment_id"] else e["deadline_id"] in running
        chain = session.get(Escalation, e["id"]).chain  # loaded by history() already
        deliveries = []
        for d in e["deliveries"]:
            d = {**d, "audience_name": labels.AUDIENCE.get(d["audience"] or "", ""),
                 "purpose_name": labels.DELIVERY_PURPOSE.get(d["purpose"], d["purpose"]),
                 "notified": d["status"] in NOTIFIED, "step_label": _step_label(chain, d["step"])}
            if not with_content:
                d.pop("content", None)
            deliveries.append(d)
        out.append({**e, "deliveries": deliveries, "open": live and item_open,
                    "incident_number": incident.number, "incident_title": incident.title,
                    "incident_level": incident.level,
                    "unit_name": unit_name(plan, e["department"] or e["station"]),
                    "chain_text": chain_text(plan, chain),
                    "ack_channel_name": labels.CHANNEL.get(e["ack_channel"] or "", "")})
    return out


def chain_text(plan: Plan, chain: dict) -> str:
    """Say an escalation's frozen chain: Ⅱ级：立即 看板→值班人员；5分钟 短信→值班人员；…（共3轮，每40分钟一轮）."""
    steps = "；".join(
        f"{'立即' if not s['after'] else chinese_duration(s['after'])} "
        f"{labels.CHANNEL.get(s['channel'], s['channel'])}→{labels.AUDIENCE.get(s['to'], s['to'])}"
        for s in chain.get("steps", []))
    level = chain.get("level")
    label = level_view(plan, level)["label"] if level in LEVEL_CODES else "未定级"
    rounds = chain.get("repeat", 1)
    every = f"，每{chinese_duration(chain['repeat_after'])}一轮" if rounds > 1 and chain.get("repeat_after") else ""
    return f"{label}：{steps}（共{rounds}轮{every}）"


def _step_label(chain: dict, step: int | None) -> str:
    if step is None or not chain.get("steps"):
        return ""
    s = escalation.step_of(chain, step)
    return f"第{s['round']}轮第{s['index'] + 1}步"


def board_escalations(session: Session, incidents: Iterable[Incident], now: datetime, *,
                      department: str | None = None, keep_done: timedelta = timedelta(hours=24)) -> list[dict]:
    """Return what a board shows of the escalations of these incidents: every open one, and the rest
    that stopped within `keep_done` (an acknowledgement shows for a while), without message texts."""
    out = []
    for incident in incidents:
        if incident.status in FINISHED:
            continue
        for e in escalation_entries(session, incident, department=department, with_content=False):
            stopped = parse_time(e["stopped_at"])
            if e["status"] == "running" or e["open"] or (stopped is not None and stopped > now - keep_done):
                out.append(e)
    return out
