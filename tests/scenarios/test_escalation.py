"""Escalation end to end with a fake clock: the real twilio SDK against the Twilio stub, signed webhooks.

Every test declares, step by step, exactly which SMS and calls must have gone out by then;
the stub fails the test on anything missing, repeated or unexpected.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest

from sqlalchemy import select

from app.jobs.clocks import tick, walker_for
from incidents.models import AuditEntry, Escalation, ProviderReceipt
from tests.helpers import Recorder, approve_summary, file_report, incident_payload, iso
from tests.twilio_stub import twilio_stub  # noqa: F401 - fixture

OFFICER = "+8613800000001"  # users["food"], on duty for food_coord
HEAD = "+8613800000003"
LEADER = "+8613800000004"
HOOK = "http://localhost/hooks/twilio"


class World:
    """An incident with one assignment to the food department, and a way to let time pass."""

    def __init__(self, app, wiring, clock, users, make_user, stub, *, level: str | None,
                 station: str | None = None) -> None:
        self.app, self.wiring, self.clock, self.users, self.stub = app, wiring, clock, users, stub
        self.replies = 0
        app.config.update(stub.settings(TWILIO_VOICE_ACTION=f"{HOOK}/voice", TWILIO_STATUS_CALLBACK=f"{HOOK}/status"))
        self.walker = walker_for(app, workers=1)
        self.recorder = Recorder()
        self.head = make_user("department_head", "food_coord", HEAD)
        self.leader = make_user("leader", None, LEADER)
        office = users["office"]
        t0 = clock.now()
        r = office.post("/api/v1/departments/food_coord/shifts",
                        json={"starts_at": iso(t0 - timedelta(hours=1)), "ends_at": iso(t0 + timedelta(days=1)),
                              "officer_id": users["food"].id})
        assert r.status_code == 201, r.get_json()
        body = incident_payload(discovered_at=iso(t0), station=station)
        if level:
            body.update(level=level, level_reason="测试")
        r = office.post("/api/v1/incidents", json=body)
        assert r.status_code == 201, r.get_json()
        self.incident = r.get_json()
        if level in ("I", "II", "III"):
            # The office learned of it by registering it (without a station it owns the 1-hour report too) and
            # reports up at once, signed off and delivered: its clocks are met, so only what a test does escalates.
            for kind in ("bureau",) if station else ("initial", "bureau"):
                signer = users["leader"] if kind == "bureau" else None  # the leadership signs the bureau's off
                file_report(office, self.incident["id"], kind, "已电话报告县政府和市局", signer=signer)
        self.t0 = t0

    def assign(self, task: str = "立即派员赶赴现场核查") -> int:
        r = self.users["office"].post(f"/api/v1/incidents/{self.incident['id']}/assignments",
                                      json={"department": "food_coord", "task": task})
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    def at(self, minutes: float) -> None:
        """Move the clock to t0 + minutes and run the scheduler twice (a second run must add nothing)."""
        self.clock.set(self.t0 + timedelta(minutes=minutes))
        tick(self.wiring, self.recorder, walker=self.walker)
        tick(self.wiring, self.recorder, walker=self.walker)

    def settled(self) -> None:
        """Fail now unless exactly the expected messages have gone out so far."""
        problems = self.stub.problems()
        assert not problems, problems

    def sent(self, kind: str) -> list:
        return [r for r in self.stub.received if r.kind == kind and r.sid]

    def history(self) -> list[dict]:
        r = self.users["office"].get(f"/api/v1/incidents/{self.incident['id']}/escalations")
        assert r.status_code == 200, r.get_json()
        return r.get_json()["escalations"]

    def assignment(self, aid: int) -> dict:
        r = self.users["office"].get(f"/api/v1/assignments/{aid}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def hook(self, path: str, params: dict):
        client = self.app.test_client()
        return self.stub.callback(f"{HOOK}/{path}", params, client=client)

    def reply(self, phone: str, body: str, *, sid: str | None = None):
        """Send a signed SMS reply; every reply is a new message (its own MessageSid) unless `sid` is given."""
        self.replies += 1
        return self.hook("sms", {"AccountSid": self.stub.account_sid, "From": phone, "To": "+15005550006",
                                 "Body": body, "MessageSid": sid or f"SMreply{self.replies:026d}"})

    def code(self, phone: str, aid: int | None = None) -> str:
        """Return the reply code (签收码) of the latest SMS to a phone, or the one a bundle lists for a task."""
        text = [r for r in self.sent("sms") if r.to == phone][-1].content
        if aid is None:
            return re.search(r"回复([A-Z0-9]{4})签收", text).group(1)
        with self.wiring.sessions() as db:
            code = db.scalar(select(Escalation.reply_code).where(Escalation.assignment_id == aid))
        assert re.search(rf"(?<![A-Z0-9]){code} ", text), text
        return code

    def keypress(self, call, digits: str = "1"):
        ref = re.search(r"ref=(\d+)", call.content).group(1)
        return self.hook(f"voice?ref={ref}", {"AccountSid": self.stub.account_sid, "CallSid": call.sid,
                                              "Digits": digits, "From": "+15005550006", "To": call.to})


@pytest.fixture
def level_one(app, wiring, clock, users, make_user, twilio_stub):  # noqa: F811
    world = World(app, wiring, clock, users, make_user, twilio_stub, level="I")
    yield world
    world.walker.close()


def test_unacknowledged_escalates_sms_call_head_leader_at_the_minutes_of_the_chain(level_one):
    w = level_one
    aid = w.assign()
    w.at(0)
    w.at(1.99)
    w.settled()  # the board only, so far
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(2)
    w.settled()
    w.at(4.99)
    w.settled()
    w.stub.expect_call(OFFICER, "立即派员赶赴现场核查")
    w.at(5)
    w.settled()
    w.stub.expect_call(HEAD, "立即派员")
    w.at(10)
    w.settled()
    w.stub.expect_call(LEADER, "立即派员")
    w.at(15)
    w.settled()
    # The second round starts 20 minutes in: board again, then the officer's SMS 2 minutes later.
    w.at(21)
    w.settled()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(22)
    w.settled()
    (esc,) = w.history()
    assert esc["status"] == "running" and esc["code"] == f"A{aid}"
    channels = [(d["channel"], d["audience"], d["status"]) for d in esc["deliveries"]]
    assert channels[:4] == [("board", "duty_officer", "delivered"), ("sms", "duty_officer", "queued"),
                            ("voice", "duty_officer", "queued"), ("voice", "department_head", "queued")]
    # The leader without a phone (the users fixture's) is recorded, not silently dropped.
    leadership = [d for d in esc["deliveries"] if d["audience"] == "leadership"]
    assert sorted(d["status"] for d in leadership) == ["queued", "skipped"]
    assert all("****" in d["phone_masked"] for d in esc["deliveries"] if d["phone_masked"])


def test_sms_reply_with_its_code_acknowledges_and_stops_the_rest(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(2)
    w.settled()
    r = w.reply(OFFICER, w.code(OFFICER))
    assert r.status_code == 200
    assert f"已签收：A{aid}" in r.get_data(as_text=True)
    assert w.assignment(aid)["status"] == "acknowledged"
    for minute in (5, 10, 15, 22, 60):
        w.at(minute)
    w.settled()  # nothing more: the call, the head and the leader were never bothered
    (esc,) = w.history()
    assert esc["status"] == "acknowledged" and esc["ack_channel"] == "sms"


def test_keypress_one_acknowledges_and_tells_those_already_alerted(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.stub.expect_call(OFFICER)
    w.stub.expect_call(HEAD)
    w.at(2)
    w.at(5)
    w.at(10)
    w.settled()
    head_call = [c for c in w.sent("voice") if c.to == HEAD][0]
    assert "按1键签收" in head_call.content and 'language="zh-CN"' in head_call.content
    w.stub.expect_sms(OFFICER, "无需再处理")  # the officer was alerted; the head pressed 1 and knows
    r = w.keypress(head_call, "1")
    assert r.status_code == 200 and "已签收" in r.get_data(as_text=True)
    w.at(10.1)
    w.at(15)
    w.at(30)
    w.settled()
    assert w.assignment(aid)["status"] == "acknowledged"


def test_other_keys_do_not_acknowledge(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER)
    w.stub.expect_call(OFFICER)
    w.at(2)
    w.at(5)
    w.settled()
    r = w.keypress(w.sent("voice")[0], "2")
    assert r.status_code == 200 and "未签收" in r.get_data(as_text=True)
    assert w.assignment(aid)["status"] == "pushed"


def test_undelivered_sms_brings_the_call_forward(level_one):
    w = level_one
    w.assign()
    w.stub.expect_sms(OFFICER)
    w.at(2)
    w.settled()
    sms = w.sent("sms")[0]
    assert w.hook("status", w.stub.status_params(sms.sid, "undelivered", ErrorCode="30003")).status_code in (200, 204)
    w.stub.expect_call(OFFICER)
    w.at(2.1)  # not at 5: the SMS did not arrive, so the chain moves on to the call now
    w.settled()
    (esc,) = w.history()
    sms_row = [d for d in esc["deliveries"] if d["channel"] == "sms"][0]
    assert sms_row["status"] == "undelivered" and "30003" in sms_row["error"]


def test_invalid_number_is_not_retried_and_the_chain_moves_on(level_one):
    w = level_one
    w.stub.reject(OFFICER, code=21211)
    w.assign()
    # The SMS and the call to the bad number are each tried once; the head is called at once.
    w.stub.expect_sms(OFFICER)
    w.stub.expect_call(OFFICER)
    w.stub.expect_call(HEAD)
    w.at(2)
    w.at(3)
    w.at(4)
    w.settled()
    (esc,) = w.history()
    failed = [d for d in esc["deliveries"] if d["status"] == "failed"]
    assert [d["channel"] for d in failed] == ["sms", "voice"] and all("21211" in d["error"] for d in failed)
    assert all(d["attempts"] == 1 for d in failed)


def test_transient_failure_is_retried_after_the_plans_wait(level_one):
    w = level_one
    w.stub.fail_next(500)
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")  # the attempt answered 500
    w.at(2)
    w.at(2.4)
    w.settled()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")  # the retry 30 seconds later
    w.at(2.5)
    w.settled()
    (esc,) = w.history()
    sms = [d for d in esc["deliveries"] if d["channel"] == "sms"]
    assert len(sms) == 1 and sms[0]["attempts"] == 2 and sms[0]["status"] == "queued"


def test_duplicate_and_out_of_order_callbacks_change_nothing(level_one):
    w = level_one
    w.assign()
    w.stub.expect_sms(OFFICER)
    w.at(2)
    sid = w.sent("sms")[0].sid
    assert w.hook("status", w.stub.status_params(sid, "delivered")).status_code == 204
    assert w.hook("status", w.stub.status_params(sid, "delivered")).status_code == 200  # again: nothing
    assert w.hook("status", w.stub.status_params(sid, "sent")).status_code == 200  # backwards: nothing
    assert w.hook("status", w.stub.status_params(sid, "queued")).status_code == 200
    assert w.hook("status", w.stub.status_params("SMunknown", "failed")).status_code == 200
    (esc,) = w.history()
    sms = [d for d in esc["deliveries"] if d["channel"] == "sms"][0]
    assert sms["status"] == "delivered" and sms["provider_status"] == "delivered"
    w.stub.expect_call(OFFICER)
    w.at(5)  # the chain goes on as planned: delivered is not acknowledged
    w.settled()


def test_webhooks_refuse_a_bad_or_missing_signature(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER)
    w.at(2)
    client = w.app.test_client()
    params = {"From": OFFICER, "Body": "1"}
    assert client.post("/hooks/twilio/sms", data=params).status_code == 403
    forged = client.post("/hooks/twilio/sms", data=params, headers={"X-Twilio-Signature": "Zm9yZ2Vk"})
    assert forged.status_code == 403 and "签名无效" in forged.get_json()["error"]["message"]
    # Signed for other parameters than those sent: refused.
    signature = w.stub.signature(f"{HOOK}/sms", {"From": OFFICER, "Body": "2"})
    assert client.post("/hooks/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}).status_code == 403
    sid = w.sent("sms")[0].sid
    bad = client.post("/hooks/twilio/status", data=w.stub.status_params(sid, "failed"),
                      headers={"X-Twilio-Signature": "x"})
    assert bad.status_code == 403
    assert client.post("/hooks/twilio/voice?ref=1", data={"Digits": "1"}).status_code == 403
    assert w.assignment(aid)["status"] == "pushed"
    (esc,) = w.history()
    assert [d["status"] for d in esc["deliveries"] if d["channel"] == "sms"] == ["queued"]
    w.settled()


def test_board_acknowledgement_stops_the_chain_and_tells_those_alerted(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER)
    w.stub.expect_call(OFFICER)
    w.stub.expect_call(HEAD)
    for minute in (2, 5, 10):
        w.at(minute)
    w.settled()
    w.stub.expect_sms(HEAD, "无需再处理")  # the officer signs on the board; the head hears it is handled
    r = w.users["food"].post(f"/api/v1/assignments/{aid}/ack")
    assert r.status_code == 200, r.get_json()
    for minute in (11, 15, 40):
        w.at(minute)
    w.settled()
    (esc,) = w.history()
    assert esc["status"] == "acknowledged" and esc["ack_channel"] == "board"


def test_ending_the_emergency_stops_escalation(level_one, users):
    w = level_one
    aid = w.assign()
    w.at(1)
    r = users["leader"].post(f"/api/v1/incidents/{w.incident['id']}/activate")
    assert r.status_code == 200, r.get_json()
    # Activation pushes the plan's standard assignments; end at once so none escalates.
    approve_summary(users["office"], users["leader"], w.incident["id"])
    r = users["leader"].post(f"/api/v1/incidents/{w.incident['id']}/end", json={"reason": "险情已消除"})
    assert r.status_code == 200, r.get_json()
    for minute in (2, 5, 30):
        w.at(minute)
    w.settled()
    assert {e["status"] for e in w.history()} == {"stopped"}
    assert w.assignment(aid)["status"] == "pushed"


def test_a_flood_is_throttled_and_what_waits_goes_out_as_one_bundle(app, wiring, clock, users, make_user,
                                                                      twilio_stub):  # noqa: F811
    # Ⅳ: the officer's SMS comes 30 minutes after the push. Seven tasks pushed a minute apart
    # would mean seven SMS in seven minutes; the plan allows five in 15 minutes.
    w = World(app, wiring, clock, users, make_user, twilio_stub, level="IV")
    try:
        ids = []
        for minute in range(7):
            w.at(minute)
            ids.append(w.assign(f"任务{minute}"))
        for aid in ids[:5]:
            w.stub.expect_sms(OFFICER, f"[A{aid}]")
        for minute in range(30, 40):
            w.at(minute)
        w.settled()
        w.at(44.9)
        w.settled()  # nothing more before the oldest of the five leaves the window
        w.stub.expect_sms(OFFICER, "您有2项待签收")
        w.at(45)
        w.settled()
        text = w.sent("sms")[-1].content
        assert "回复签收码签收" in text
        history = {e["code"]: e for e in w.history()}
        held = [d for code in (f"A{ids[5]}", f"A{ids[6]}") for d in history[code]["deliveries"] if d["channel"] == "sms"]
        assert sorted(d["status"] for d in held) == ["bundled", "queued"]
        # Replying both codes the bundle lists, in one message, signs both items it carried.
        r = w.reply(OFFICER, f"{w.code(OFFICER, ids[5])} {w.code(OFFICER, ids[6])}")
        assert f"A{ids[5]}" in r.get_data(as_text=True) and f"A{ids[6]}" in r.get_data(as_text=True)
        assert w.assignment(ids[5])["status"] == w.assignment(ids[6])["status"] == "acknowledged"
        assert w.assignment(ids[0])["status"] == "pushed"
    finally:
        w.walker.close()


def test_a_clock_about_to_run_out_escalates_and_a_reply_with_its_code_acknowledges(
        app, wiring, clock, users, make_user, twilio_stub):  # noqa: F811
    station_phone = "+8613800000005"
    make_user("station", "chengguan", station_phone)
    w = World(app, wiring, clock, users, make_user, twilio_stub, level="I", station="chengguan")
    try:
        clock_id = [d for d in w.incident["deadlines"] if d["kind"] == "initial_report"][0]["id"]
        w.at(44)
        w.settled()
        # 15 minutes before the station's 1-hour report: the board at once, the SMS 2 minutes later.
        w.stub.expect_sms(station_phone, f"[D{clock_id}]")
        w.at(45)
        w.at(47)
        w.settled()
        code = w.code(station_phone)
        r = w.reply(station_phone, f"收到 {code.lower()}")
        assert f"已签收：D{clock_id}" in r.get_data(as_text=True)
        w.at(50)
        w.at(55)  # the second warning belongs to the same, acknowledged, escalation: nothing
        w.settled()
        # Overdue is a new fact: it escalates afresh.
        w.stub.expect_sms(station_phone, "已超时")
        w.at(60)
        w.at(62)
        w.settled()
        # The report comes in late: the overdue escalation is resolved and the station told.
        w.stub.expect_sms(station_phone, "已办结")
        file_report(users["station"], w.incident["id"], "initial", "初报")
        w.at(63)
        w.at(90)
        w.settled()
        statuses = {(e["trigger"], e["status"]) for e in w.history() if e["deadline_id"] == clock_id}
        assert statuses == {("warning", "acknowledged"), ("overdue", "resolved")}
        # A reply naming a code this phone was never sent acknowledges nothing.
        r = w.reply("+8613899999999", code)
        assert "未找到" in r.get_data(as_text=True)
    finally:
        w.walker.close()


def test_the_last_step_goes_out_and_a_late_acknowledgement_still_tells_those_alerted(
        app, wiring, clock, users, make_user, twilio_stub):  # noqa: F811
    # Ⅳ: the officer's SMS at 30 minutes, the head's at 2 hours; two rounds, 3 hours apart.
    w = World(app, wiring, clock, users, make_user, twilio_stub, level="IV")
    try:
        aid = w.assign()
        w.stub.expect_sms(OFFICER, f"[A{aid}]")
        w.stub.expect_sms(HEAD, f"[A{aid}]")
        w.stub.expect_sms(OFFICER, f"[A{aid}]")
        w.stub.expect_sms(HEAD, f"[A{aid}]")  # the very last step of the chain
        for minute in (30, 120, 180, 210, 300, 400):
            w.at(minute)
        w.settled()
        (esc,) = w.history()
        assert esc["status"] == "exhausted"
        w.stub.expect_sms(HEAD, "无需再处理")  # the officer signs late; the head, alerted twice, is told once
        r = w.users["food"].post(f"/api/v1/assignments/{aid}/ack")
        assert r.status_code == 200, r.get_json()
        w.at(401)
        w.settled()
        (esc,) = w.history()
        assert esc["status"] == "acknowledged" and esc["ack_channel"] == "board"
    finally:
        w.walker.close()


def test_a_code_signs_only_its_item_of_a_bundle(level_one):
    w = level_one
    first, second = w.assign("任务甲"), w.assign("任务乙")
    w.stub.expect_sms(OFFICER, "您有2项待签收")
    w.at(2)
    w.settled()
    first_code, second_code = w.code(OFFICER, first), w.code(OFFICER, second)
    assert first_code != second_code
    r = w.reply(OFFICER, first_code)
    assert f"已签收：A{first}。" in r.get_data(as_text=True)
    assert w.assignment(first)["status"] == "acknowledged" and w.assignment(second)["status"] == "pushed"
    w.stub.expect_call(OFFICER, "任务乙")  # the other item's chain goes on
    w.at(5)
    w.settled()
    r = w.reply(OFFICER, second_code)
    assert f"已签收：A{second}" in r.get_data(as_text=True)
    assert w.assignment(second)["status"] == "acknowledged"


@pytest.mark.parametrize("body", ["{code}", "收到{code}", "确认 {lower}，谢谢", "1 {code}", "{wide}"])
def test_natural_replies_with_the_code_acknowledge(level_one, body):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(2)
    code = w.code(OFFICER)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in code)  # typed with a full-width keyboard
    r = w.reply(OFFICER, body.format(code=code, lower=code.lower(), wide=wide))
    assert f"已签收：A{aid}" in r.get_data(as_text=True)
    assert w.assignment(aid)["status"] == "acknowledged"


def test_only_the_department_signs_its_task_through_the_escalation(level_one, users):
    w = level_one
    aid = w.assign()
    w.at(0)
    (esc,) = w.history()
    r = users["leader"].post(f"/api/v1/escalations/{esc['id']}/ack")
    assert r.status_code == 403 and "被派发科室" in r.get_json()["error"]["message"]
    assert w.assignment(aid)["status"] == "pushed"
    r = users["food"].post(f"/api/v1/escalations/{esc['id']}/ack")
    assert r.status_code == 200, r.get_json()
    assert w.assignment(aid)["status"] == "acknowledged" and w.history()[0]["status"] == "acknowledged"


def test_a_status_callback_before_the_sid_is_recorded_is_kept(level_one):
    from incidents import escalation

    w = level_one
    w.assign()
    w.at(0)
    w.clock.set(w.t0 + timedelta(minutes=2))
    escalation.advance(w.wiring.sessions, now=w.clock.now())
    (out,) = escalation.claim_outgoing(w.wiring.sessions, now=w.clock.now(), rules=w.wiring.plan.delivery)
    # The provider took it and already says it was delivered; the sender has not recorded the SID yet.
    sid = "SM" + "a" * 32
    r = w.hook(f"status?ref={out.delivery_id}", {"AccountSid": w.stub.account_sid, "MessageSid": sid,
                                                  "MessageStatus": "delivered", "To": OFFICER})
    assert r.status_code == 204
    escalation.record_results(w.wiring.sessions, [(out, escalation.Result(ok=True, status="queued", provider="twilio",
                                                                         provider_id=sid))],
                              now=w.clock.now(), rules=w.wiring.plan.delivery)
    (esc,) = w.history()
    sms = [d for d in esc["deliveries"] if d["channel"] == "sms"][0]
    assert sms["status"] == "delivered" and sms["provider_status"] == "delivered" and sms["at"]
    # A second delivery's callback cannot take a SID by naming a delivery that is not being sent.
    r = w.hook(f"status?ref={out.delivery_id}", {"AccountSid": w.stub.account_sid, "MessageSid": "SM" + "b" * 32,
                                                  "MessageStatus": "failed", "To": OFFICER})
    assert r.status_code == 200
    assert [d["status"] for d in w.history()[0]["deliveries"] if d["channel"] == "sms"] == ["delivered"]


# --- replay (issue 15 item 10) -------------------------------------------------------------
def test_a_bare_one_or_an_item_number_acknowledges_nothing(level_one):
    """"1" and "A12" could sign an item the officer never saw: only the item's random reply code does."""
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(2)
    w.settled()
    assert re.search(r"。回复[ACDEFGHJKMNPQRTUVWXY34679]{4}签收\[A\d+\]$", w.sent("sms")[-1].content)
    for body in ("1", "收到", f"A{aid}", f"收到A{aid}"):
        r = w.reply(OFFICER, body)
        assert r.status_code == 200 and "签收码" in r.get_data(as_text=True), body
    assert w.assignment(aid)["status"] == "pushed"


def test_a_captured_reply_resent_later_cannot_acknowledge_a_newer_task(level_one, wiring):
    """The finding: a signed reply captured on the way in, resent 19 minutes later, for a task pushed since."""
    w = level_one
    first = w.assign("任务甲")
    w.stub.expect_sms(OFFICER, "任务甲")
    w.at(2)
    w.settled()
    captured = {"AccountSid": w.stub.account_sid, "From": OFFICER, "To": "+15005550006",
                "Body": w.code(OFFICER), "MessageSid": "SM" + "c" * 32}
    r = w.hook("sms", captured)
    assert f"已签收：A{first}" in r.get_data(as_text=True)
    w.at(19)
    second = w.assign("任务乙")
    w.stub.expect_sms(OFFICER, "任务乙")
    w.at(21)
    w.settled()
    assert w.code(OFFICER) != captured["Body"]
    # The same signed request again: 200 (Twilio must not retry it), nothing signed, nothing answered.
    r = w.hook("sms", captured)
    assert r.status_code == 200 and "<Message>" not in r.get_data(as_text=True)
    assert w.assignment(second)["status"] == "pushed"
    # Even as a new message (a new MessageSid), the old code names only the old item.
    r = w.reply(OFFICER, captured["Body"])
    assert w.assignment(second)["status"] == "pushed" and f"A{second}" not in r.get_data(as_text=True)
    with wiring.sessions() as db:
        replays = db.scalars(select(AuditEntry).where(AuditEntry.action == "webhook.replayed")).all()
        receipts = db.scalars(select(ProviderReceipt.sid)).all()
    assert [(e.entity, e.entity_id) for e in replays] == [("sms", captured["MessageSid"])]
    assert captured["MessageSid"] in receipts


def test_a_repeated_keypress_callback_changes_nothing(level_one, wiring):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER)
    w.stub.expect_call(OFFICER)
    w.at(2)
    w.at(5)
    w.settled()
    call = w.sent("voice")[0]
    r = w.keypress(call, "2")
    assert "未签收" in r.get_data(as_text=True)
    # The "2" was this call's keypress: a "1" forged onto the same call (same CallSid) is a replay.
    r = w.keypress(call, "1")
    assert r.status_code == 200 and "<Say" not in r.get_data(as_text=True)
    assert w.assignment(aid)["status"] == "pushed"
    with wiring.sessions() as db:
        assert db.scalars(select(AuditEntry.entity).where(AuditEntry.action == "webhook.replayed")).all() == ["voice"]


def test_a_webhook_without_its_message_id_acknowledges_nothing(level_one):
    w = level_one
    aid = w.assign()
    w.stub.expect_sms(OFFICER, f"[A{aid}]")
    w.at(2)
    r = w.hook("sms", {"AccountSid": w.stub.account_sid, "From": OFFICER, "To": "+15005550006",
                       "Body": w.code(OFFICER)})
    assert r.status_code == 200
    assert w.assignment(aid)["status"] == "pushed"
