"""The alert phones page (告警电话): the office for every unit, a department head for their own, phones
masked, a change confirmed (the old number is told by SMS), CSRF-checked, and refused to anyone else."""
from __future__ import annotations

import json

from sqlalchemy import select

from incidents.models import AuditEntry, User
from tests.helpers import signed_in_client
from tests.test_tokens import SENT_SMS, recording_sms  # noqa: F401  (the fixture)


def phone_of(wiring, user_id: int) -> str | None:
    with wiring.sessions() as session:
        return session.get(User, user_id).phone


def audit_actions(wiring) -> list[tuple[str, dict]]:
    with wiring.sessions() as session:
        return [(e.action, json.loads(e.data)) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.seq))]


def change(page, user_id: int, phone: str, confirm: bool = True, csrf: str = "t"):
    data = {"phone": phone, "csrf_token": csrf, **({"confirm": "yes"} if confirm else {})}
    return page.post(f"/phones/{user_id}", data=data)


def test_the_office_sees_every_unit_masked_and_changes_a_phone(app, wiring, make_user, users, recording_sms):
    head = make_user("department_head", "food_coord", "+8613800000111")
    page = signed_in_client(app, users["office"].id)
    r = page.get("/phones")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert '<a href="/phones" aria-current="page">告警电话</a>' in html
    assert "+86138****0111" in html and "+8613800000111" not in html and "+8613800000001" not in html
    assert "<h2" in html and "食品安全协调督查科</h2>" in html and "无所属单位</h2>" in html  # by unit, by name
    assert f'id="person-{users["prices"].id}"' in html and f'id="person-{users["leader"].id}"' in html
    assert "原号码 +86138****0111 将收到短信通知" in html

    r = change(page, head.id, "+8613800000333")
    assert r.status_code == 200, r.get_data(as_text=True)
    html = r.get_data(as_text=True)
    assert "已将" in html and "+86138****0333" in html and "原号码已收到短信通知" in html
    assert phone_of(wiring, head.id) == "+8613800000333"
    assert [m.to for m in recording_sms] == ["+8613800000111"]
    assert ("user.phone_changed", {"old": "+86138****0111", "new": "+86138****0333"}) in audit_actions(wiring)
    assert ("user.phone_change_notified", {"to": "+86138****0111", "sent": True}) in audit_actions(wiring)


def test_a_change_needs_the_confirmation_a_valid_phone_and_the_csrf_token(app, wiring, users, recording_sms):
    officer = users["food"]
    page = signed_in_client(app, users["office"].id)
    r = change(page, officer.id, "+8613800000999", confirm=False)
    assert r.status_code == 400 and "请先勾选确认" in r.get_data(as_text=True)
    for bad in ("", "13800000999", "+86abc"):
        assert change(page, officer.id, bad).status_code == 400, bad
    assert change(page, officer.id, "+8613800000999", csrf="wrong").status_code == 400
    assert change(page, 999999, "+8613800000999").status_code == 404
    assert phone_of(wiring, officer.id) == "+8613800000001"
    assert recording_sms == []
    assert not [a for a, _ in audit_actions(wiring) if a == "user.phone_changed"]


def test_a_department_head_sees_and_changes_their_own_unit_only(app, wiring, make_user, users, recording_sms):
    head = make_user("department_head", "food_coord", "+8613800000111")
    page = signed_in_client(app, head.id)
    html = page.get("/phones").get_data(as_text=True)
    assert "告警电话</a>" in html and "科室负责人可修改本科室人员的告警电话" in html
    assert f'id="person-{users["food"].id}"' in html and f'id="person-{head.id}"' in html
    assert f'id="person-{users["prices"].id}"' not in html and f'id="person-{users["leader"].id}"' not in html

    assert change(page, users["food"].id, "+8613800000444").status_code == 200
    assert phone_of(wiring, users["food"].id) == "+8613800000444"
    assert [m.to for m in recording_sms] == ["+8613800000001"]
    # Another unit's officer: refused, unchanged, nobody texted.
    assert change(page, users["prices"].id, "+8613800000555").status_code == 403
    assert change(page, users["prices"].id, "bad", confirm=False).status_code == 403  # refused before the form
    assert phone_of(wiring, users["prices"].id) == "+8613800000002"
    assert len(recording_sms) == 1


def test_other_roles_neither_see_nor_change_alert_phones(app, wiring, make_user, users, recording_sms):
    others = [users["leader"], users["commander"], users["food"], users["station"], users["viewer"], users["admin"],
              make_user("sysadmin"), make_user("secadmin")]
    for other in others:
        page = signed_in_client(app, other.id)
        assert page.get("/phones").status_code == 403, other.role
        assert change(page, users["food"].id, "+8613800000666").status_code == 403, other.role
        html = page.get("/accountability").get_data(as_text=True)
        assert 'href="/phones"' not in html, other.role
    assert phone_of(wiring, users["food"].id) == "+8613800000001"
    assert recording_sms == []
    # Without a session the page asks for the login.
    r = app.test_client().get("/phones")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
