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


def deliveries(at: str | None = None, reference: str = "政务内网回执 ZM-2026-001") -> list[dict]:
    """Every recipient of the written report, delivered through 政务内网 (at `at`, else now)."""
    return [{"code": code, "channel": "gov_intranet", "reference": f"{reference}-{n}",
             **({"delivered_at": at} if at else {})} for n, code in enumerate(RECIPIENTS, 1)]


def report_up(office, iid: int, *, at: str | None = None):
    """File the written report to the county government and the city bureau, both delivered: the clock is met
    and the incident archived."""
    body = {"kind": "closing", "body": "关于事件应急处置情况的书面报告", "recipients": deliveries(at)}
    if at:
        body["submitted_at"] = at
    r = office.post(f"/api/v1/incidents/{iid}/reports", json=body)
    assert r.status_code == 201, r.get_json()
    return r


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
