"""Small helpers shared by the tests."""
from __future__ import annotations

from datetime import datetime

from incidents.models import User
from incidents.people import login_sessions


def iso(moment: datetime) -> str:
    """Format a time as the API does."""
    return moment.isoformat()


def by_kind(deadlines: list[dict], *, live_only: bool = True) -> dict[str, dict]:
    """Index clocks by kind, the latest cycle winning; cancelled ones dropped unless asked."""
    out: dict[str, dict] = {}
    for d in sorted(deadlines, key=lambda d: (d["kind"], d["cycle"], d["id"])):
        if live_only and d["status"] == "cancelled":
            continue
        out[d["kind"]] = d
    return out


def incident_payload(**overrides) -> dict:
    """A complete registration body for a food-poisoning event at a canteen."""
    body = {
        "title": "某学校食堂疑似食物中毒",
        "category": "food_poisoning",
        "discovered_at": "2026-11-20T09:00:00+08:00",
        "location": "城关镇某中学食堂",
        "station": "chengguan",
        "source": "县医院急诊科电话报告",
        "nature": "集体性食物中毒",
        "scope": "在校师生约20人出现腹痛、呕吐",
        "trend": "新增病例减少",
        "measures_taken": "封存留样食品，暂停食堂供餐",
        "casualties": "20人就医，无死亡",
    }
    body.update(overrides)
    return body


class Recorder:
    """A deliver function for the scheduler tick that keeps what it was handed."""

    def __init__(self) -> None:
        self.fired = []

    def __call__(self, fired) -> None:
        self.fired.extend(fired)

    def kinds(self) -> list[tuple[str, str]]:
        """Return (clock kind, firing kind) for everything delivered, in order."""
        return [(f.payload["clock"], f.kind) for f in self.fired]


CLOSING_FORM = {"cause": "从无证摊贩采购的豆角未煮熟，导致皂素中毒。", "handling": "封存留样，停止供餐，救治病人。",
                "aftermath": "患者均已出院。", "lessons": "进货查验不严。", "improvements": "建立进货台账。"}


def approve_summary(author, leader, iid: int, form: dict | None = None):
    """File the command's handling summary and have the leadership approve it: the decision that lets the end be declared."""
    r = author.post(f"/api/v1/incidents/{iid}/closing-report", json=form or CLOSING_FORM)
    assert r.status_code == 201, r.get_json()
    r = leader.post(f"/api/v1/incidents/{iid}/closing-report/approve", json={"note": "同意结束应急状态"})
    assert r.status_code == 200, r.get_json()
    return r


RECIPIENTS = ("county_government", "city_bureau")
# Whom a person tells of each report, and how (plan §三(二)2): the station's report its township government, by phone
# (the bureau has it at once, here); the bureau's, progress and written reports the county government and the city
# bureau, through 政务内网 (no city Yingji is registered as a peer in the tests).
TOLD = {"initial": {"local_government": "phone"},
        **{kind: dict.fromkeys(RECIPIENTS, "gov_intranet") for kind in ("bureau", "progress", "closing")}}
PROOF = {"phone": "电话记录", "gov_intranet": "政务内网回执"}


def deliveries(at: str | None = None, reference: str = "政务内网回执 ZM-2026-001") -> list[dict]:
    """Every recipient of the written report, delivered through 政务内网 (at `at`, else now)."""
    return [{"code": code, "channel": "gov_intranet", "reference": f"{reference}-{n}",
             **({"delivered_at": at} if at else {})} for n, code in enumerate(RECIPIENTS, 1)]


def told(kind: str, at: str | None = None) -> list[dict]:
    """Every recipient a person tells of a report of this kind, told at `at` (else now): a filing's `recipients`."""
    return [{"code": code, "channel": channel, "reference": f"{PROOF[channel]} {code}",
             **({"delivered_at": at} if at else {})} for code, channel in TOLD[kind].items()]


def deliver_rest(client, report: dict, *, at: str | None = None) -> dict:
    """Record, as `client`, every recipient of a gone-out report not reached yet, told at `at` (else now); return the
    last answer ({"report", "incident"})."""
    answer = {"report": report}
    for row in report["recipients"]:
        if row["delivered_at"] is not None or row["returned_at"] is not None:
            continue
        channel = TOLD.get(report["kind"], {}).get(row["code"], "gov_intranet")
        r = client.post(f"/api/v1/reports/{report['id']}/recipients/{row['code']}/delivery",
                        json={"channel": channel, "reference": f"{PROOF[channel]} {row['code']}",
                              **({"delivered_at": at} if at else {})})
        assert r.status_code == 200, r.get_json()
        answer = r.get_json()
    return answer


def file_report(client, iid: int, kind: str, body: str = "报告", *, at: str | None = None, signer=None,
                deliver: bool = True, **extra) -> dict:
    """File a report as the plan has it go, all at the clock's now: filed by `client` (claimed sent at `at`, else
    now); signed off by `signer` where the plan asks for a sign-off the filer may not give (bureau: the leadership;
    progress: the leadership or the commander; closing: the leadership); and, with `deliver`, every recipient a person
    tells recorded as told at `at` too (inline with the filing when no sign-off waits, else by `client` right after
    it). Return the last answer ({"report", "incident"})."""
    payload = {"kind": kind, "body": body, **({"submitted_at": at} if at else {}), **extra}
    if deliver and signer is None:
        payload["recipients"] = told(kind, at)
    r = client.post(f"/api/v1/incidents/{iid}/reports", json=payload)
    assert r.status_code == 201, r.get_json()
    answer = r.get_json()
    if signer is not None:
        r = signer.post(f"/api/v1/reports/{answer['report']['id']}/sign-off", json={})
        assert r.status_code == 200, r.get_json()
        answer = r.get_json()
        if deliver:
            answer = deliver_rest(client, answer["report"], at=at)
    return answer


def report_up(office, iid: int, *, signer=None, at: str | None = None) -> dict:
    """File the written report, signed off by the leadership (`signer`, unless the filer is the leadership), and
    delivered to the county government and the city bureau at once: the clock is met and the incident archived.
    Return the last answer ({"report", "incident"})."""
    return file_report(office, iid, "closing", "关于事件应急处置情况的书面报告", at=at, signer=signer)


def signed_in_client(app, user_id: int, csrf: str = "t"):
    """Return a test client with a real login session of this user (as the login form opens one)."""
    wiring = app.extensions["yingji"]
    with wiring.sessions() as session:
        key = login_sessions.start(session, session.get(User, user_id), now=wiring.clock.now(), address="127.0.0.1")
        session.commit()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["user_id"], cookie["sid"], cookie["csrf"] = user_id, key, csrf
    return client
