"""Fill a PostgreSQL database with years of a city's data, in bulk, reproducibly from a seed number.

    python -m bench.seed --years 5 --scale city            # a scratch database, kept; its URL is printed
    python -m bench.seed --scale 1 --database postgresql+psycopg://postgres@127.0.0.1:5432/mydb
    python -m bench.seed --fraction 0.002 --drop           # a tiny size, dropped at the end

The city (13 county bureaus over 5 years, all kept in one database under the default plan):
about 20,000 incidents of every level and state (re-grades, late and missed reports, returned
closing reports, closed without a response, withdrawn), 500,000 clocks, 1,000,000 complaints
and tip-offs with their working-day limits, 5,000,000 audit entries, 2,000,000 deliveries,
rosters for every unit. `--scale 1` is 1 % of that, `--scale 10` 10 %, `--scale city` all of it.

Rows are shaped as the domain writes them (incidents/response/service.py, clock_rows,
incidents/complaints/intake.py, incidents/escalation/, incidents/records/audit.py) and written
with COPY. The audit entries form a valid chain keyed with AUDIT_KEY, so `flask audit verify`
passes; the complainants' personal data is sealed with PII_KEY and the phone blind-indexed, so
phone search finds them. Both keys derive from the seed number (`bench_keys`): these are test
keys. Everything bulk lies in the past and is finished (archived incidents, answered complaints,
settled escalations), except complaints of the last weeks, which may still be open; the live
incidents and rosters of today come on top from the demo loader (app/demo.py), through the
domain's own functions, so the boards show what a duty officer sees.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from bench.common import ADMIN_URL, utcnow
from app.audit_keys import keyring_from as audit_keyring_from
from app.migrate import upgrade
from app.pii_keys import keyring_from as pii_keyring_from
from incidents.complaints.checks import business_key
from incidents.complaints.intake import _limit_specs
from incidents.complaints.states import ERASED_TEXT
from incidents.complaints.tracking import _TRACK, _track_check
from incidents.plan import DEFAULT_PLAN_FILE, load_plan_file
from incidents.escalation.frozen import chain_for, step_count
from incidents.records.audit import GENESIS, canonical, entry_body
from incidents.response.service import stored_plan_version

# The city over five years (issue 17).
CITY = {"incidents": 20_000, "clocks": 500_000, "complaints": 1_000_000, "audit": 5_000_000,
        "deliveries": 2_000_000}
CITY_YEARS = 5
SCALES = {"1": 0.01, "10": 0.1, "city": 1.0}
BULK_UNTIL = timedelta(days=30)  # bulk incidents end this long before now: today's come from the demo loader
SHIFT = timedelta(hours=8)
UTC = timezone.utc


def bench_keys(seed: int) -> dict[str, str]:
    """Return the AUDIT_KEY and PII_KEY a seeded database is keyed with (test keys, from the seed number)."""
    return {"AUDIT_KEY": hashlib.sha256(f"yingji-bench-audit:{seed}".encode()).hexdigest(),
            "PII_KEY": hashlib.sha256(f"yingji-bench-pii:{seed}".encode()).hexdigest()}


def phone_of(complaint_id: int) -> str:
    """Return the complainant's phone of a seeded complaint (so a benchmark can search for it)."""
    return f"13{(complaint_id * 7919 + 12345) % 10**9:09d}"


# --- COPY buffers -------------------------------------------------------------------

COLUMNS = {
    "users": "id,name,login,role,unit,phone,active,created_at,must_change_password",
    "shifts": "id,department,starts_at,ends_at,officer_id,officer_name,phone,created_by_id,created_at,phone_on_record",
    "incidents": ("id,number,kind,title,category,level,status,lead_department,station,discovered_at,location,source,"
                  "nature,scope,trend,measures_taken,casualties,plan_version_id,created_by_id,created_at,"
                  "activated_at,ended_at,end_reason,ended_by_id,archived_at,registered_unit,withdrawn_at,"
                  "withdrawn_by_id,withdraw_kind,withdraw_reason"),
    "level_changes": "id,incident_id,from_level,to_level,reason,changed_by_id,changed_at",
    "reports": "id,incident_id,kind,measure,body,submitted_at,entered_at,submitted_by_id,backdated,signed_at,signed_by_id",
    "report_recipients": ("id,report_id,code,name,required,channel,reference,delivered_at,recorded_at,recorded_by_id,"
                          "backdated,returned_at,return_reason,returned_by_id,skip_level,receipt_at,receipt_by"),
    "deadlines": ("id,incident_id,kind,cycle,name,department,station,starts_at,due_at,status,satisfied_at,"
                  "satisfied_by_report_id,late_seconds,judged_by,cancelled_at,cancel_reason,warn_before,fire_stage,"
                  "next_fire_at,timing_version,created_at"),
    "deadline_events": "id,deadline_id,incident_id,timing_version,stage,kind,due_at,fire_at,fired_at,payload,claimed_at,"
                       "dispatched_at",
    "complaints": ("id,tracking_no,kind,status,category,suggested_department,department,triaged_at,triaged_by_id,name,"
                   "phone,address,phone_hmac,business_name,business_key,business_address,area,amount,description,"
                   "demand,source,content_sha256,received_at,accepted_at,mediation_started_at,decided_at,closed_at,"
                   "finished_at,reason,answer,handled_by_id,chained_at,erased_at,updated_at"),
    "complaint_limits": ("id,complaint_id,kind,name,department,starts_on,working_days,due_on,due_at,warn_at,estimated,"
                         "estimate_note,status,satisfied_at,late_seconds,cancelled_at,cancel_reason,warned_at,"
                         "overdue_at,created_at"),
    "escalations": ("id,key,incident_id,deadline_id,complaint_limit_id,trigger,department,station,chain,started_at,"
                    "status,next_step,next_at,stopped_at,stop_reason,ack_by_id,ack_by_name,ack_channel"),
    "deliveries": ("id,dedupe_key,escalation_id,incident_id,step,purpose,channel,audience,user_id,name,phone,content,"
                   "status,provider,provider_id,provider_status,attempts,created_at,sent_at,updated_at"),
    "audit_entries": "seq,at,actor_id,actor,action,entity,entity_id,incident_id,data,prev_hash,hash,key_version",
}
FLUSH_ROWS = 20_000


class Copier:
    """Row buffers per table, each flushed with one COPY when it fills; ids are handed out here."""

    def __init__(self, conn):
        self.conn = conn
        self.buffers: dict[str, list[tuple]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)
        self.ids: dict[str, int] = defaultdict(int)

    def next_id(self, table: str) -> int:
        """Return the next id of a table (the rows are written with their ids)."""
        self.ids[table] += 1
        return self.ids[table]

    def add(self, table: str, row: tuple) -> None:
        """Buffer a row; COPY the table's buffer when it is full."""
        buf = self.buffers[table]
        buf.append(row)
        if len(buf) >= FLUSH_ROWS:
            self.flush(table)

    def flush(self, table: str) -> None:
        """COPY a table's buffered rows."""
        rows = self.buffers.pop(table, [])
        if not rows:
            return
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        self.counts[table] += len(rows)

    def flush_all(self) -> None:
        """COPY every buffer."""
        for table in list(self.buffers):
            self.flush(table)


# --- the audit chain, in time order -----------------------------------------------


class Chain:
    """Audit entries keyed and chained as incidents.records.audit._chain_pending does, written in time order.

    Entities are generated in the order they were created, and every entry of an entity is at or
    after its creation, so the entries of a day are complete once generation has moved past it.
    """

    def __init__(self, copier: Copier, key):
        self.copier, self.key = copier, key
        self.pending: dict[int, list] = defaultdict(list)
        self.seq, self.hash = 0, GENESIS
        self.order = 0
        self.until: datetime | None = None  # nothing at or after this is recorded (it has not happened yet)

    def record(self, at: datetime, actor: tuple[int | None, str], action: str, entity: str, entity_id, data: dict,
               incident_id: int | None = None) -> None:
        if self.until is not None and at >= self.until:
            return
        at = at.astimezone(UTC)  # hashed as read back: a limit's due time comes in the bureau's zone
        self.order += 1
        day = at.toordinal()
        self.pending[day].append((at, self.order, actor, action, entity, str(entity_id), incident_id,
                                  canonical(data)))

    def release(self, before: date) -> None:
        """Chain and write every entry of the days before `before`."""
        limit = before.toordinal()
        for day in sorted(d for d in self.pending if d < limit):
            for at, _, (actor_id, actor), action, entity, entity_id, incident_id, data in sorted(self.pending.pop(day)):
                self.seq += 1
                fields = dict(seq=self.seq, at=at, actor=actor, action=action, entity=entity, entity_id=entity_id,
                              incident_id=incident_id, data=data, prev_hash=self.hash)
                digest = self.key.mac(entry_body(**fields))
                self.copier.add("audit_entries", (self.seq, at, actor_id, actor, action, entity, entity_id,
                                                  incident_id, data, self.hash, digest, self.key.version))
                self.hash = digest


# --- the shape of the city ----------------------------------------------------------


@dataclass
class Shape:
    """How many of each, and the random stream they come from."""

    fraction: float
    years: float
    seed: int
    incidents: int = 0
    clocks: int = 0
    complaints: int = 0
    audit: int = 0
    deliveries: int = 0
    rng: random.Random = field(init=False)

    def __post_init__(self):
        share = self.fraction * self.years / CITY_YEARS
        for name, full in CITY.items():
            setattr(self, name, max(1, round(full * share)))
        self.rng = random.Random(self.seed)


LEVELS = (("I", 2), ("II", 8), ("III", 30), ("IV", 40), (None, 20))
PROGRESS_EVERY = {"I": timedelta(days=1), "II": timedelta(days=3), "III": timedelta(days=7), "IV": timedelta(days=7)}
REPORT_KIND = {"initial_report": "initial", "bureau_report": "bureau", "progress_report": "progress",
               "closing_report": "closing"}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
SHOP_KINDS = ("超市", "烧烤", "餐馆", "药房", "手机店", "服装店", "美容院", "农贸市场", "网店", "加油站", "培训机构",
              "家电城")


class Seeder:
    """Generates the city's rows day by day and writes them with COPY."""

    def __init__(self, conn, plan, shape: Shape, *, now: datetime, pv_id: int, audit_key, pii, calendar):
        self.conn, self.plan, self.shape, self.now = conn, plan, shape, now
        self.rng = shape.rng
        self.copy = Copier(conn)
        self.chain = Chain(self.copy, audit_key)
        self.chain.until = now
        self.pii, self.calendar, self.pv_id = pii, calendar, pv_id
        self.units = [d.code for d in plan.departments] + [s.code for s in plan.stations]
        self.stations = [s.code for s in plan.stations]
        self.officers: dict[str, list[tuple[int, str, str, str]]] = {}
        self.limit_cache: dict = {}
        self.chains: dict = {}
        self.clocks = {c.kind: c for c in plan.clocks}
        self.categories = list(plan.categories)
        self.ccategories = list(plan.complaints.categories)
        self.businesses = max(50, shape.complaints // 20)
        self.start = now - timedelta(days=365.25 * shape.years)

    # -- people and rosters --

    def users(self) -> None:
        """Three officers per unit (a head and two duty officers), a station's are station staff."""
        for unit in self.units:
            station = unit in self.stations
            people = []
            for k in range(3):
                uid = self.copy.next_id("users") + 1000  # the demo's users come after, from the sequence
                name = f"{SURNAMES[(uid * 7) % len(SURNAMES)]}{unit[:3]}{k}"
                role = "station" if station else ("department_head" if k == 0 else "duty_officer")
                if unit == self.plan.office_department:
                    role = "office"
                phone = f"139{uid:08d}"
                self.copy.add("users", (uid, name, f"bench-{unit}-{k}", role, unit, phone, True,
                                        self.start - timedelta(days=30), False))
                people.append((uid, name, role, phone))
            self.officers[unit] = people

    def rosters(self) -> None:
        """Eight-hour shifts for every unit from the first day to two days ahead."""
        first = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        last = self.now + timedelta(days=2)
        for unit in self.units:
            people = self.officers[unit]
            t, k = first, 0
            while t < last:
                uid, name, _, phone = people[k % 3]
                self.copy.add("shifts", (self.copy.next_id("shifts"), unit, t, t + SHIFT, uid, None, phone, None,
                                         t - timedelta(days=7), True))
                t, k = t + SHIFT, k + 1

    def actor(self, unit: str, k: int = 1) -> tuple[int, str, str]:
        uid, name, role, _ = self.officers[unit][k % 3]
        return uid, f"{role}:{name}", name

    # -- incidents --

    def incident(self, t0: datetime, per_incident_progress: float) -> None:
        rng, plan = self.rng, self.plan
        iid = self.copy.next_id("incidents")
        category = rng.choice(self.categories)
        lead = category.lead_department
        station = rng.choice(self.stations)
        level = rng.choices([lv for lv, _ in LEVELS], [w for _, w in LEVELS])[0]
        registrar = self.actor(station, 0)
        office = self.actor(plan.office_department, 0)
        lead_actor = self.actor(lead, 1)
        number = f"YJ{t0.year}-{iid:05d}"
        created = t0 + timedelta(minutes=rng.randint(5, 40))
        title = f"{plan.station(station).name}{category.name if hasattr(category, 'name') else category.code}({iid})"
        audit = self.chain.record
        audit(created, registrar[:2], "incident.registered", "incident", iid,
              {"number": number, "kind": "event", "title": title, "category": category.code, "level": None,
               "lead_department": lead, "station": station, "registered_unit": station,
               "discovered_at": t0.isoformat(), "plan_version": plan.version, "plan_sha256": plan.sha256},
              incident_id=iid)
        self.copy.add("level_changes", (self.copy.next_id("level_changes"), iid, None, None, "登记时未定级",
                                        registrar[0], created))
        clocks: list[tuple] = []  # (kind, cycle, starts, due, responsible unit)
        initial_due = t0 + timedelta(hours=1)
        clocks.append(("initial_report", 0, t0, initial_due, station))
        status, activated, ended, archived = "closed", None, None, None
        withdraw = (None, None, None)
        t = created + timedelta(minutes=rng.randint(10, 90))
        if level is None:
            # Never activated: false, duplicate or not to be activated; or a test entry withdrawn.
            kind = rng.choice(("false_report", "not_activated", "duplicate", "test"))
            status = "withdrawn" if kind == "test" else "closed"
            withdraw = (t, kind, "核查后不启动响应" if kind != "test" else "测试登记，作废")
            audit(t, office[:2], "incident.withdrawn" if kind == "test" else "incident.closed", "incident", iid,
                  {"kind": kind, "reason": withdraw[2]}, incident_id=iid)
        else:
            audit(t, office[:2], "incident.graded", "incident", iid, {"from": None, "to": level, "reason": "定级"},
                  incident_id=iid)
            self.copy.add("level_changes", (self.copy.next_id("level_changes"), iid, None, level, "定级",
                                            office[0], t))
            clocks.append(("bureau_report", 0, t, t + timedelta(minutes=30), plan.office_department))
            if rng.random() < 0.12:  # re-graded once
                later = t + timedelta(hours=rng.randint(2, 30))
                other = rng.choice([lv for lv in PROGRESS_EVERY if lv != level])
                self.copy.add("level_changes", (self.copy.next_id("level_changes"), iid, level, other, "研判后调整级别",
                                                office[0], later))
                audit(later, office[:2], "incident.graded", "incident", iid,
                      {"from": level, "to": other, "reason": "研判后调整级别"}, incident_id=iid)
                level = other
            activated = t + timedelta(minutes=rng.randint(20, 120))
            audit(activated, self.actor(plan.office_department, 0)[:2], "incident.activated", "incident", iid,
                  {"level": level}, incident_id=iid)
            for kind in ("command_meeting", "measures_issued", "work_team_dispatched")[: 3 if level in ("I", "II") else 1]:
                clocks.append((kind, 0, activated, activated + self.clocks[kind].due_after[0][1], lead))
            every = PROGRESS_EVERY[level]
            # Bulk incidents are archived before now (today's live ones come from the demo loader).
            room = int((self.now - timedelta(days=30) - activated) / every)
            cycles = min(rng.randint(0, max(0, int(2 * per_incident_progress))), max(0, room))
            starts = activated
            for cycle in range(cycles):
                clocks.append(("progress_report", cycle, starts, starts + every, lead))
                starts += every
            ended = starts + timedelta(hours=rng.randint(1, 30))
            closing_every = timedelta(days=8 if level == "IV" else 4)
            clocks.append(("closing_report", 0, ended, ended + closing_every, plan.office_department))
            archived = ended + closing_every + timedelta(days=rng.randint(1, 10))
            status = "archived"
            audit(ended, lead_actor[:2], "incident.ended", "incident", iid, {"reason": "事态得到控制"}, incident_id=iid)
            audit(archived, office[:2], "incident.archived", "incident", iid, {}, incident_id=iid)
        self.copy.add("incidents", (
            iid, number, "event", title, category.code, level, status, lead, station, t0,
            f"{plan.station(station).name}辖区某处", "群众举报", "突发事件", "影响范围有限", "平稳", "已采取控制措施", "无死亡",
            self.pv_id, registrar[0], created, activated, ended, "事态得到控制" if ended else None,
            lead_actor[0] if ended else None, archived, station, withdraw[0],
            office[0] if withdraw[0] else None, withdraw[1], withdraw[2]))
        for kind, cycle, starts, due, unit in clocks:
            self.deadline(iid, kind, cycle, starts, due, unit, withdrawn=level is None and withdraw[1] == "test",
                          level=level)

    def deadline(self, iid: int, kind: str, cycle: int, starts: datetime, due: datetime, unit: str, *,
                 withdrawn: bool, level: str | None) -> None:
        rng = self.rng
        did = self.copy.next_id("deadlines")
        rule = self.clocks[kind]
        warn = [int(w.total_seconds()) for w in rule.warn_before]
        station = unit if unit in self.stations else None
        department = None if station else unit
        actor = self.actor(unit, 1)
        report_id = satisfied = late = judged = cancelled = None
        roll = rng.random()
        if withdrawn:
            status, cancelled = "cancelled", starts + timedelta(minutes=30)
        elif roll < 0.82:
            status = "met"
            satisfied = starts + (due - starts) * rng.uniform(0.2, 0.95)
        elif roll < 0.95:
            status = "late"  # a late report
            satisfied = due + timedelta(minutes=rng.randint(5, 600))
            late = int((satisfied - due).total_seconds())
        else:
            status = "overdue"  # a missed report
        if satisfied is not None:
            judged = "claim"
            report_id = self.report(iid, kind, satisfied, actor)
            self.chain.record(satisfied, actor[:2], "deadline.satisfied", "deadline", did,
                              {"kind": kind, "cycle": cycle, "status": status, "report": report_id}, incident_id=iid)
        fired = []
        if status in ("late", "overdue") or (status == "met" and rng.random() < 0.25):
            fired.append((0, "warning", due - timedelta(seconds=warn[0]) if warn else due))
            if status != "met":
                fired.append((len(warn), "overdue", due))
        self.copy.add("deadlines", (
            did, iid, kind, cycle, rule.name, department, station, starts, due, status, satisfied, report_id, late,
            judged, cancelled, "事件作废" if cancelled else None, json.dumps(warn), len(warn) + 1, None, 1, starts))
        for stage, what, at in fired:
            if at < starts:
                at = starts
            self.copy.add("deadline_events", (self.copy.next_id("deadline_events"), did, iid, 1, stage, what, due,
                                              at, at, json.dumps({"kind": kind, "name": rule.name}, ensure_ascii=False),
                                              at, at + timedelta(seconds=1)))
            self.chain.record(at, (None, "system:调度"), f"deadline.{what}", "deadline", did,
                              {"kind": kind, "cycle": cycle, "stage": stage}, incident_id=iid)
        if fired:
            at = fired[-1][2]
            end = satisfied or at + timedelta(minutes=20)
            self.escalation(f"D{did}:1:{fired[-1][1]}", at, max(end, at + timedelta(seconds=30)), unit, iid=iid,
                            deadline_id=did, trigger=fired[-1][1], level=level)

    def report(self, iid: int, clock_kind: str, at: datetime, actor) -> int:
        rng = self.rng
        rid = self.copy.next_id("reports")
        kind = REPORT_KIND.get(clock_kind, "measure")
        measure = clock_kind if kind == "measure" else None
        signed = at - timedelta(minutes=2) if kind in ("bureau", "closing") else None
        self.copy.add("reports", (rid, iid, kind, measure, f"{clock_kind}：处置情况报告（{rid}）", at,
                                  at + timedelta(minutes=rng.randint(0, 10)), actor[0], False, signed,
                                  self.officers[self.plan.office_department][0][0] if signed else None))
        self.chain.record(at, actor[:2], "report.submitted", "report", rid, {"kind": kind, "measure": measure},
                          incident_id=iid)
        if kind in ("bureau", "closing"):
            for code, name in (("county_government", "县人民政府"), ("city_bureau", "市市场监督管理局")):
                returned = kind == "closing" and code == "city_bureau" and rng.random() < 0.05  # returned closing report
                self.copy.add("report_recipients", (
                    self.copy.next_id("report_recipients"), rid, code, name, True, "gov_intranet", f"政务内网回执 {rid}",
                    at, at, actor[0], False, at + timedelta(days=1) if returned else None,
                    "材料不全，请补充原因分析" if returned else None, None, False, at + timedelta(hours=2), name))
        return rid

    # -- escalations and deliveries --

    def escalation(self, key: str, at: datetime, settled: datetime, unit: str, *, iid=None, deadline_id=None,
                   limit_id=None, trigger="overdue", level: str | None = None) -> None:
        rng = self.rng
        chain = self.chains.get(level)
        if chain is None:
            chain = self.chains[level] = chain_for(self.plan, level) or {}
        eid = self.copy.next_id("escalations")
        acked = rng.random() < 0.8
        status = "acknowledged" if acked else "resolved"
        head_id, _, head_name = self.actor(unit, 0)
        steps = rng.randint(1, self.delivery_steps)
        next_step = min(steps, step_count(chain)) if chain else 0
        self.copy.add("escalations", (
            eid, key, iid, deadline_id, limit_id, trigger, unit if unit not in self.stations else None,
            unit if unit in self.stations else None, json.dumps(chain, ensure_ascii=False), at, status, next_step, None,
            settled, "已签收" if acked else "已办结", head_id if acked else None, head_name if acked else None,
            "sms" if acked else None))
        self.chain.record(at, (None, "system:升级"), "escalation.started", "escalation", eid,
                          {"key": key, "trigger": trigger}, incident_id=iid)
        self.chain.record(settled, (head_id, f"duty_officer:{head_name}") if acked else (None, "system:升级"),
                          f"escalation.{status}", "escalation", eid, {"key": key}, incident_id=iid)
        people = self.officers[unit]
        for step in range(steps):
            uid, name, role, phone = people[step % 3]
            channel = "voice" if step % 2 else "sms"
            did = self.copy.next_id("deliveries")
            sent = at + timedelta(seconds=2 + 300 * step)
            status_d = rng.choices(("delivered", "sent", "undelivered", "cancelled"), (80, 10, 5, 5))[0]
            self.copy.add("deliveries", (
                did, f"E{eid}:{step}:alert:{uid}:{channel}", eid, iid, step, "alert", channel, role, uid, name, phone,
                f"【应急】{key} 请及时处理，回复签收码签收", status_d, "twilio", f"SMb{did:029x}", status_d, 1, at, sent,
                sent + timedelta(seconds=5)))

    # -- complaints --

    def limit_timing(self, kind: str, event: str, department: str, at: datetime) -> list[dict]:
        local = at.astimezone(self.plan.tz)
        cache_key = (kind, event, local.date(), local.hour >= 12)
        specs = self.limit_cache.get(cache_key)
        if specs is None:
            specs = _limit_specs(self.plan, self.calendar, kind, event, department, at=at, now=at)
            self.limit_cache[cache_key] = specs
        return specs

    def complaint(self, received: datetime) -> None:
        rng, plan, pii = self.rng, self.plan, self.pii
        cid = self.copy.next_id("complaints")
        kind = "complaint" if rng.random() < 0.8 else "tipoff"
        cat = rng.choice(self.ccategories)
        department = cat.department
        centre = plan.complaints.centre
        centre_actor = self.actor(centre, 1)
        dept_actor = self.actor(department, 1)
        local_day = received.astimezone(plan.tz).date()
        body = "".join(rng.choice(_TRACK) for _ in range(6))
        tracking = f"{'TS' if kind == 'complaint' else 'JB'}{local_day:%Y%m%d}-{body}{_track_check(body)}"
        shop = rng.randrange(self.businesses)
        # A few businesses draw many complaints (a chain store), most draw few.
        if rng.random() < 0.3:
            shop = shop % 40
        business_name = f"{SHOP_KINDS[shop % len(SHOP_KINDS)]}第{shop}号店"
        area = rng.choice(self.stations)
        triaged = received + timedelta(hours=rng.uniform(0.5, 20))
        if triaged > self.now:
            triaged = None
        accepted = decided = closed = finished = mediation = None
        status, reason, answer = "received", None, None
        if triaged is not None:
            status = "received"
            step = received + timedelta(days=rng.uniform(1, 9))
            if kind == "complaint":
                if step < self.now:
                    if rng.random() < 0.12:
                        status, decided, finished = "refused", step, step
                        reason = "不属于本局管辖"
                    else:
                        status, accepted = "accepted", step
                        if rng.random() < 0.7:
                            mediation = step + timedelta(days=1)
                            status = "mediating" if mediation < self.now else status
                        end = step + timedelta(days=rng.uniform(3, 60))
                        if end < self.now:
                            status, closed, finished = "closed", end, end
                            answer = "经调解，双方达成一致"
            else:
                if step + timedelta(days=5) < self.now:
                    status = rng.choice(("filed", "not_filed"))
                    decided = finished = step + timedelta(days=5)
                    reason = "经核查" + ("决定立案" if status == "filed" else "不予立案")
        erased = finished + timedelta(days=1) if finished and finished < self.now - plan.complaints.retention else None
        if erased:
            name = phone = address = ""
            phone_hmac = None
            description = pii.seal("complaints.description", ERASED_TEXT)  # the erasure seals its notice too
            reason = ERASED_TEXT if reason else None
            answer = ERASED_TEXT if answer else None
        else:
            phone = phone_of(cid)
            name = pii.seal("complaints.name", f"{SURNAMES[cid % len(SURNAMES)]}先生")
            address = pii.seal("complaints.address", f"{plan.station(area).name}辖区{cid % 97}号")
            description = pii.seal("complaints.description", f"在{business_name}消费时权益受损（{cid}），要求处理。")
            phone_hmac = pii.blind("complaints.phone", phone)
            phone = pii.seal("complaints.phone", phone)
        updated = max(x for x in (received, triaged, accepted, mediation, finished, erased) if x)
        self.copy.add("complaints", (
            cid, tracking, kind, status, cat.code, department, department if triaged else None, triaged,
            centre_actor[0] if triaged else None, name, phone, address, phone_hmac, business_name,
            business_key(business_name), f"{plan.station(area).name}辖区商业街{shop % 300}号", area,
            round(rng.uniform(10, 3000), 2) if kind == "complaint" else None, description,
            "refund" if kind == "complaint" else None, rng.choice(("web", "api")),
            hashlib.sha256(f"c{cid}".encode()).hexdigest(), received, accepted, mediation, decided, closed, finished,
            reason, answer, dept_actor[0] if accepted else None, received + timedelta(minutes=1), erased, updated))
        audit = self.chain.record
        if triaged:
            audit(triaged, centre_actor[:2], "complaint.triaged", "complaint", tracking, {"department": department})
        for at, to in ((accepted, "accepted"), (mediation, "mediating"), (decided or closed, status)):
            if at and (to != status or finished):
                audit(at, dept_actor[:2], "complaint.status", "complaint", tracking, {"to": to})
        # Its limits, as intake and acceptance start them, and how each ended.
        events = [("received", received, centre)] + ([("accepted", accepted, department)] if accepted else [])
        for event, at, unit in events:
            for spec in self.limit_timing(kind, event, unit, at):
                lid = self.copy.next_id("complaint_limits")
                rule = next(r for r in plan.complaints.limits if r.kind == spec["kind"])
                met_at = {"acceptance": accepted or decided, "mediation": closed,
                          "filing_decision": decided}.get(spec["kind"])
                warned = spec["warn_at"] if spec["warn_at"] < min(met_at or self.now, self.now) else None
                overdue = spec["due_at"] if spec["due_at"] < min(met_at or self.now, self.now) else None
                lstatus, satisfied, late, cancelled = "pending", None, None, None
                if met_at:
                    satisfied = met_at
                    lstatus = "late" if met_at > spec["due_at"] else "met"
                    late = int((met_at - spec["due_at"]).total_seconds()) if lstatus == "late" else None
                elif finished:
                    lstatus, cancelled = "cancelled", finished
                self.copy.add("complaint_limits", (
                    lid, cid, spec["kind"], rule.name, unit, spec["starts_on"], spec["working_days"], spec["due_on"],
                    spec["due_at"], spec["warn_at"], spec["estimated"], spec["estimate_note"], lstatus, satisfied, late,
                    cancelled, "投诉已办结" if cancelled else None, warned, overdue, at))
                if warned and rng.random() < self.complaint_escalation_share:
                    settled = min(x for x in (satisfied, cancelled, self.now, warned + timedelta(hours=4)) if x)
                    self.escalation(f"L{lid}:{'overdue' if overdue else 'warning'}", warned,
                                    max(settled, warned + timedelta(seconds=30)), unit, limit_id=lid,
                                    trigger="overdue" if overdue else "warning")

    # -- the whole run --

    def run(self) -> None:
        shape, rng = self.shape, self.rng
        # Deliveries: about 4 per escalation; escalations come from clocks that warned or ran out
        # (about a third) and from complaint limits that warned (tuned to reach the total).
        self.delivery_steps = 13
        per_escalation = 4.0
        clock_escalations = shape.clocks * 0.31
        self.complaint_escalation_share = min(1.0, max(0.0, (shape.deliveries / per_escalation - clock_escalations)
                                                        / max(1, shape.complaints * 0.25)))
        self.users()
        self.rosters()
        progress = max(0.0, shape.clocks / shape.incidents - 4.0)
        days = int((self.now - BULK_UNTIL - self.start).days)
        incident_days = sorted(rng.randrange(days) for _ in range(shape.incidents))
        complaint_span = (self.now - self.start).total_seconds()
        complaint_times = sorted(rng.random() * complaint_span for _ in range(shape.complaints))
        ii = ci = 0
        day0 = self.start.replace(hour=0, minute=0, second=0, microsecond=0)
        total_days = (self.now - day0).days + 1
        t0 = time.monotonic()
        for d in range(total_days):
            day_start = day0 + timedelta(days=d)
            day_end = day_start + timedelta(days=1)
            events: list[tuple[datetime, int]] = []
            while ii < len(incident_days) and incident_days[ii] <= d:
                events.append((day_start + timedelta(seconds=rng.randrange(86400)), 0))
                ii += 1
            while ci < len(complaint_times) and self.start + timedelta(seconds=complaint_times[ci]) < day_end:
                events.append((self.start + timedelta(seconds=complaint_times[ci]), 1))
                ci += 1
            for at, what in sorted(events):
                if at >= self.now:
                    continue
                if what == 0:
                    self.incident(at, progress)
                else:
                    self.complaint(at)
            self.chain.release(day_end.date())
            if d % 100 == 0:
                print(f"  day {d}/{total_days}: {self.copy.ids['incidents']} incidents, "
                      f"{self.copy.ids['complaints']} complaints, {self.chain.seq} audit entries "
                      f"({time.monotonic() - t0:.0f} s)", flush=True)
        self.chain.release((self.now + timedelta(days=2)).date())
        self.copy.flush_all()
        with self.conn.cursor() as cur:
            cur.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, %s, %s)", (self.chain.seq, self.chain.hash))
            for table in COLUMNS:
                if table == "audit_entries":
                    continue
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT coalesce(max(id), 0) + 1 FROM {table}), false)")


def seed(url: str, *, fraction: float, years: float = CITY_YEARS, seed_number: int = 17, demo: bool = True,
         now: datetime | None = None) -> dict[str, int]:
    """Fill the migrated, empty database at url; return rows per table."""
    import psycopg

    now = now or utcnow()
    plan = load_plan_file(DEFAULT_PLAN_FILE)
    keys = bench_keys(seed_number)
    audit_key = audit_keyring_from({"AUDIT_KEY": keys["AUDIT_KEY"]}).current
    pii = pii_keyring_from({"PII_KEY": keys["PII_KEY"]})
    engine = create_engine(url, poolclass=NullPool)
    from app.calendar import calendar_for  # the calendar the intake counts working days with

    with Session(engine) as session:
        pv_id = stored_plan_version(session, plan, now - timedelta(days=365 * years + 60)).id
        calendar = calendar_for(session, plan)
        session.commit()
    engine.dispose()
    shape = Shape(fraction=fraction, years=years, seed=seed_number)
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            # Foreign keys are not checked row by row (the rows are made consistent here): a superuser's bulk load.
            try:
                cur.execute("SET session_replication_role = replica")
            except psycopg.Error:
                conn.rollback()
            cur.execute("SET synchronous_commit = off")
        seeder = Seeder(conn, plan, shape, now=now, pv_id=pv_id, audit_key=audit_key, pii=pii, calendar=calendar)
        seeder.run()
        conn.commit()
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = origin")
    if demo:
        load_demo(url, keys)
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    counts = {}
    with engine.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
        for table in list(COLUMNS) + ["assignments"]:
            counts[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
    engine.dispose()
    return counts


def load_demo(url: str, keys: dict[str, str]) -> None:
    """Add today's live incidents, complaints and rosters through the domain, as app/demo.py loads them."""
    import tempfile

    from app import create_app
    from app.demo import load

    with tempfile.TemporaryDirectory(prefix="yingji-seed-") as instance:
        app = create_app({"DATABASE_URL": url, "SQLALCHEMY_DATABASE_URI": url, "SCHEDULER": "off",
                          "AUDIT_KEY": keys["AUDIT_KEY"], "PII_KEY": keys["PII_KEY"], "SECRET_KEY": "seed",
                          "AUDIT_HEAD_FILE": os.path.join(instance, "audit_heads")})
        for line in load(app):
            print(f"  demo: {line}", flush=True)


def database_size(url: str) -> str:
    """Return the database's size on disk, as PostgreSQL prints it."""
    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))")).scalar_one()
    engine.dispose()
    return size


def create_database(name: str | None = None) -> str:
    """Create (or recreate) yingji_bench_<name>, migrate it to head, return its URL."""
    import secrets

    name = f"yingji_bench_{name or secrets.token_hex(5)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    """Drop a database made by create_database."""
    name = url.rsplit("/", 1)[1]
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fraction_of(scale: str) -> float:
    """Return the share of the city a --scale names (1, 10, city, or a number of per cent)."""
    if scale in SCALES:
        return SCALES[scale]
    return float(scale) / 100.0


def main(argv: list[str] | None = None) -> dict[str, int]:
    """Seed a database and print rows per table and its size."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=CITY_YEARS)
    parser.add_argument("--scale", default="1", help="1 (1 %% of the city), 10 (10 %%), city (all of it)")
    parser.add_argument("--fraction", type=float, help="share of the city, overrides --scale (e.g. 0.002)")
    parser.add_argument("--seed", type=int, default=17, help="the random stream and the keys derive from it")
    parser.add_argument("--database", help="URL of a migrated, empty database (default: a new yingji_bench_* one)")
    parser.add_argument("--name", help="name of the new database, yingji_bench_<name>")
    parser.add_argument("--no-demo", action="store_true", help="leave out today's live incidents")
    parser.add_argument("--drop", action="store_true", help="drop the new database at the end")
    args = parser.parse_args(argv)
    fraction = args.fraction if args.fraction is not None else fraction_of(args.scale)
    t0 = time.monotonic()
    url = args.database or create_database(args.name)
    print(f"seeding {url} with {fraction:g} of the city over {args.years:g} years, seed {args.seed}", flush=True)
    try:
        counts = seed(url, fraction=fraction, years=args.years, seed_number=args.seed, demo=not args.no_demo)
        for table, n in counts.items():
            print(f"  {table:20} {n:>10,}")
        print(f"database size {database_size(url)}; {time.monotonic() - t0:.0f} s; keys: "
              + " ".join(f"{k}={v}" for k, v in bench_keys(args.seed).items()), flush=True)
    finally:
        if args.drop and not args.database:
            drop_database(url)
            print(f"dropped {url.rsplit('/', 1)[1]}")
    return counts


if __name__ == "__main__":
    main()
