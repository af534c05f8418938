"""Personal information at rest and on-duty phones: sealed columns, keyed HMACs, key rotation, who sees phones."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import StatementError

from app import create_app, migrate, pii_keys
from app.migrate import downgrade, upgrade
from app.pii_keys import PiiKeyError
from app.security import InsecureSettings
from incidents.complaints.tracking import new_tracking_no
from incidents.kernel import sealed
from incidents.kernel.db import make_engine, make_session_factory, normalise_url
from incidents.kernel.sealed import PiiCipherError
from incidents.models import Complaint
from tests.conftest import TEST_AUDIT_KEY, TEST_PII_KEY, TIME_TRAVEL
from tests.helpers import iso
from tests.test_migrations import empty_url  # noqa: F401  (fixture)

PLAIN = {"name": "王秀英", "phone": "13812345678", "address": "中牟县城关镇青年路8号",
         "description": "身份证号410122199001011234，银行卡6222021234567890128，吃后腹泻，要求退款。"}
OLD_NUMBER = new_tracking_no("complaint", date(2026, 11, 20))
OTHER_KEY = "another-pii-key-fedcba9876543210fedcba9876543210"


def complaint(**overrides) -> dict:
    data = {"kind": "complaint", "business_name": "张记烧烤", "business_address": "中牟县城关镇人民路1号",
            "category": "catering", "demand": "refund", **PLAIN}
    data.update(overrides)
    return data


def submit(app, **overrides) -> str:
    r = app.test_client().post("/api/v1/complaints", json=complaint(**overrides),
                               environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["tracking_no"]


def raw_row(url_or_engine, number: str) -> dict:
    engine = url_or_engine if not isinstance(url_or_engine, str) else create_engine(normalise_url(url_or_engine))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM complaints WHERE tracking_no = :n"), {"n": number}).mappings().one()
    return dict(row)


def build(db_url, clock, tmp_path, **settings):
    return create_app({"DATABASE_URL": db_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "test",
                       "SCHEDULER": "off", "AUDIT_KEY": TEST_AUDIT_KEY, "PII_KEY": TEST_PII_KEY,
                       "AUDIT_HEAD_FILE": str(tmp_path / "audit_heads.log"), **TIME_TRAVEL, **settings})


# --- at rest ------------------------------------------------------------------------------------------


def test_the_raw_row_holds_no_plaintext_and_names_its_key(app, wiring):
    number = submit(app)
    row = raw_row(wiring.engine, number)
    dump = repr(row)
    for value in ("王秀英", "13812345678", "5678", "青年路", "410122199001011234", "6222021234567890128", "腹泻"):
        assert value not in dump
    key_id = app.extensions["yingji_pii"].current.key_id
    assert key_id.startswith("aes256gcm:")
    for column in ("name", "phone", "address", "description"):
        assert row[column].startswith(f"pii1:{key_id}:")
    assert row["name"] != raw_row(wiring.engine, submit(app))["name"]  # a fresh nonce every time
    assert len(row["phone_hmac"]) == 64 and row["phone_hmac"] != "13812345678"
    with wiring.sessions() as s:  # and the application reads it as it was typed
        got = s.scalar(select(Complaint).where(Complaint.tracking_no == number))
        assert (got.name, got.phone, got.address, got.description) == tuple(PLAIN.values())


def test_every_page_and_answer_shows_the_same_masked_values(app, wiring, make_user):
    number = submit(app)
    public = app.test_client().get(f"/api/v1/complaints/{number}?phone=13812345678")
    assert public.status_code == 200 and public.get_json()["phone"] == "138****5678"
    assert app.test_client().get(f"/api/v1/complaints/{number}?phone=13812345679").status_code == 404
    viewer, centre = make_user("viewer"), make_user("duty_officer", "complaints")
    seen = viewer.get(f"/api/v1/complaints/{number}/detail")
    assert seen.status_code == 200, seen.get_json()
    body = seen.get_data(as_text=True)
    assert seen.get_json()["phone"] == "138****5678"
    assert "13812345678" not in body and "410122199001011234" not in body and "6222021234567890128" not in body
    contact = centre.post(f"/api/v1/complaints/{number}/contact")
    assert contact.status_code == 200, contact.get_json()
    assert contact.get_json()["phone"] == "13812345678" and contact.get_json()["address"] == PLAIN["address"]
    # Staff find a complaint by the complainant's phone through its keyed HMAC.
    found = centre.get("/api/v1/complaints", query_string={"q": "138 1234 5678"}).get_json()
    assert [c["tracking_no"] for c in found["complaints"]] == [number]
    assert centre.get("/api/v1/complaints", query_string={"q": "13812345679"}).get_json()["complaints"] == []


def test_a_value_moved_to_another_column_or_edited_does_not_open(app, wiring):
    number = submit(app)
    keyring = app.extensions["yingji_pii"]
    phone = raw_row(wiring.engine, number)["phone"]
    with pytest.raises(PiiCipherError):
        keyring.open("complaints.name", phone)  # the column is the associated data
    blob = phone[:-6] + ("A" if phone[-6] != "A" else "B") + phone[-5:]
    with pytest.raises(PiiCipherError):
        keyring.open("complaints.phone", blob)
    assert keyring.open("complaints.phone", phone) == "13812345678"


def test_without_a_keyring_nothing_is_written_in_plain_text(db_url):
    engine = make_engine(db_url)
    sealed.install(engine, None)
    try:
        with make_session_factory(engine)() as s, pytest.raises(StatementError) as caught:
            s.execute(Complaint.__table__.update().values(name="王秀英"))
        assert isinstance(caught.value.orig, PiiCipherError)
    finally:
        engine.dispose()


def test_sm4_gcm_is_the_standard_one_and_selectable(db_url, clock, tmp_path):
    # RFC 8998, A.1: SM4-GCM as OpenSSL (through `cryptography`) computes it.
    enc = Cipher(algorithms.SM4(bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")),
                 modes.GCM(bytes.fromhex("00001234567800000000ABCD"))).encryptor()
    enc.authenticate_additional_data(bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2"))
    body = enc.update(bytes.fromhex("".join(b * 8 for b in ("AA", "BB", "CC", "DD", "EE", "FF", "EE", "AA"))))
    body += enc.finalize()
    assert body.hex().upper() == ("17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
                                  "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
    assert enc.tag.hex().upper() == "83DE3541E4C2B58177E065A9BF7B62EC"
    app = build(db_url, clock, tmp_path, PII_CIPHER="sm4")
    try:
        number = submit(app)
        row = raw_row(app.extensions["yingji"].engine, number)
        assert row["phone"].startswith("pii1:sm4gcm:") and "13812345678" not in repr(row)
        assert app.test_client().get(f"/api/v1/complaints/{number}?phone=13812345678").status_code == 200
    finally:
        app.extensions["yingji"].engine.dispose()


# --- keys -----------------------------------------------------------------------------------------------


def test_rotate_key_seals_everything_again_and_the_old_key_can_go(app, wiring, db_url, clock, tmp_path):
    first, second = submit(app), submit(app, kind="tipoff", phone="13900001111", name="", address="",
                                                 demand=None)
    old = raw_row(wiring.engine, first)
    rotated = build(db_url, clock, tmp_path, PII_KEY=OTHER_KEY, PII_RETIRED_KEYS=TEST_PII_KEY)
    try:
        # Before the rotation the new server still reads what the old key sealed.
        assert rotated.test_client().get(f"/api/v1/complaints/{first}?phone=13812345678").status_code == 200
        result = rotated.test_cli_runner().invoke(args=["pii", "rotate-key"])
        assert result.exit_code == 0, result.output
        assert "重新加密 2 件" in result.output
        status = rotated.test_cli_runner().invoke(args=["pii", "status"]).output
        assert app.extensions["yingji_pii"].current.key_id not in status
    finally:
        rotated.extensions["yingji"].engine.dispose()
    new_id = pii_keys.keyring_from({"PII_KEY": OTHER_KEY}).current.key_id
    row = raw_row(wiring.engine, first)
    assert all(row[c].startswith(f"pii1:{new_id}:") for c in ("name", "phone", "address", "description"))
    assert row["phone_hmac"] != old["phone_hmac"]
    assert raw_row(wiring.engine, second)["address"] == ""  # an absent address stays empty
    only_new = build(db_url, clock, tmp_path, PII_KEY=OTHER_KEY)
    try:
        client = only_new.test_client()
        assert client.get(f"/api/v1/complaints/{first}?phone=13812345678").status_code == 200
        with only_new.extensions["yingji"].sessions() as s:
            got = s.scalar(select(Complaint).where(Complaint.phone_hmac == "13900001111"))
            assert got.tracking_no == second and got.phone == "13900001111"
    finally:
        only_new.extensions["yingji"].engine.dispose()
    with wiring.sessions() as s:  # the old key alone no longer opens anything
        with pytest.raises(PiiCipherError):
            s.scalar(select(Complaint).where(Complaint.tracking_no == first))
    with wiring.sessions() as s:
        assert [e.action for e in s.execute(text("SELECT action FROM audit_entries WHERE action = 'pii.key_rotated'"))]


@pytest.mark.parametrize("settings,message", [
    ({"PII_KEY": None}, "PII_KEY"),
])
def test_production_refuses_to_start_without_the_key(db_url, clock, settings, message):
    with pytest.raises(InsecureSettings) as caught:
        create_app({"YINGJI_ENV": "production", "DATABASE_URL": db_url, "CLOCK": clock, "SCHEDULER": "off",
                    "SECRET_KEY": "9f" * 32, "AUDIT_KEY": "9f" * 32, "SESSION_COOKIE_SECURE": True, **settings})
    assert message in str(caught.value) and "未设置 PII_KEY" in str(caught.value)


@pytest.mark.parametrize("settings", [
    {"PII_KEY": "short"},
    {"PII_KEY": "change-me-to-64-random-hex-characters-pii"},
    {"PII_KEY": "9f" * 32, "PII_CIPHER": "des"},
    {"PII_KEY": "9f" * 32, "PII_RETIRED_KEYS": "short"},
])
def test_unusable_key_settings_are_refused(db_url, clock, settings):
    # Production names the unusable key with every other insecure setting; the local demo refuses at once.
    with pytest.raises(InsecureSettings) as caught:
        create_app({"YINGJI_ENV": "production", "DATABASE_URL": db_url, "CLOCK": clock, "SCHEDULER": "off",
                    "SECRET_KEY": "9f" * 32, "AUDIT_KEY": "9f" * 32, "SESSION_COOKIE_SECURE": True, **settings})
    assert "PII_" in str(caught.value) and caught.value.problems[0][0] != caught.value.problems[0][1]
    with pytest.raises(PiiKeyError) as caught:
        create_app({"DATABASE_URL": db_url, "CLOCK": clock, "SCHEDULER": "off", "SECRET_KEY": "test",
                    "AUDIT_KEY": "9f" * 32, **settings})
    assert caught.value.message_zh and caught.value.message_en


# --- the migration -------------------------------------------------------------------------------------


def test_migration_seals_existing_rows_and_downgrade_opens_them(empty_url, clock, tmp_path):  # noqa: F811
    keyring = pii_keys.keyring_from({"PII_KEY": TEST_PII_KEY})
    upgrade(empty_url, "0013")
    engine = create_engine(normalise_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO complaints (tracking_no, kind, status, category, suggested_department, name, phone, "
            "address, business_name, business_key, business_address, description, source, content_sha256, "
            "received_at, updated_at) VALUES (:number, 'complaint', 'received', 'catering', "
            "'catering', :name, :phone, :address, '张记烧烤', '张记烧烤', '人民路1号', :description, 'web', 'x', "
            ":at, :at)"), {**PLAIN, "at": clock.now(), "number": OLD_NUMBER})
        conn.execute(text(
            "INSERT INTO complaints (tracking_no, kind, status, category, suggested_department, name, phone, "
            "address, business_name, business_key, business_address, description, source, content_sha256, "
            "received_at, updated_at) VALUES ('TS20261120-ERASED1', 'complaint', 'closed', 'catering', "
            "'catering', '', '', '', '张记烧烤', '张记烧烤', '人民路1号', '（已删除）', 'web', 'y', :at, :at)"),
            {"at": clock.now()})
    engine.dispose()
    upgrade(empty_url, "head", pii=keyring)
    row = raw_row(empty_url, OLD_NUMBER)
    assert "13812345678" not in repr(row) and "王秀英" not in repr(row) and "410122199001011234" not in repr(row)
    assert row["phone"].startswith("pii1:") and row["phone_hmac"] == keyring.blind("complaints.phone", "13812345678")
    erased = raw_row(empty_url, "TS20261120-ERASED1")
    assert (erased["name"], erased["phone"], erased["phone_hmac"]) == ("", "", None)
    app = build(empty_url, clock, tmp_path)
    try:
        r = app.test_client().get(f"/api/v1/complaints/{OLD_NUMBER}?phone=13812345678")
        assert r.status_code == 200 and r.get_json()["phone"] == "138****5678"
    finally:
        app.extensions["yingji"].engine.dispose()
    downgrade(empty_url, "0013", pii=keyring)
    row = raw_row(empty_url, OLD_NUMBER)
    assert (row["name"], row["phone"], row["address"], row["description"]) == tuple(PLAIN.values())
    assert "phone_hmac" not in row


def test_the_migration_without_the_key_refuses_rather_than_leaves_plain_text(empty_url, monkeypatch):  # noqa: F811
    upgrade(empty_url, "0013")
    engine = create_engine(normalise_url(empty_url))
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO complaints (tracking_no, kind, status, category, suggested_department, name, phone, "
            "address, business_name, business_key, business_address, description, source, content_sha256, "
            "received_at, updated_at) VALUES (:number, 'complaint', 'received', 'catering', "
            "'catering', '王', '13812345678', '', 'b', 'b', 'a', 'd', 'web', 'x', '2026-11-20 01:00:00', "
            "'2026-11-20 01:00:00')"), {"number": OLD_NUMBER})
    engine.dispose()
    monkeypatch.setattr(migrate, "_environment_keyring", lambda: None)
    with pytest.raises(RuntimeError, match="PII key"):
        upgrade(empty_url, "head")


# --- on-duty phones -------------------------------------------------------------------------------------


def test_only_those_who_dispatch_see_on_duty_phones_in_full(users, make_user, clock, wiring):
    office = users["office"]
    r = office.post("/api/v1/departments/food_coord/shifts",
                    json={"starts_at": iso(clock.now() - timedelta(hours=1)), "ends_at": iso(clock.now() + timedelta(hours=7)),
                          "officer_id": users["food"].id})
    assert r.status_code == 201 and r.get_json()["phone"] == "+8613800000001"
    head = make_user("department_head", "food_coord")
    other_head = make_user("department_head", "prices")
    full = {"office": office, "leader": users["leader"], "commander": users["commander"], "own head": head}
    masked = {"own duty officer": users["food"], "other duty officer": users["prices"], "viewer": users["viewer"],
              "admin": users["admin"], "other head": other_head, "station": users["station"]}
    for who, user in {**full, **masked}.items():
        want = "+8613800000001" if who in full else "+86138****0001"
        now_on = user.get("/api/v1/departments/food_coord/on-duty")
        assert now_on.status_code == 200, (who, now_on.get_json())
        shift = now_on.get_json()["on_duty"][0]
        assert (shift["phone"], shift["phone_masked"]) == (want, who not in full), who
        listed = user.get("/api/v1/departments").get_json()
        food = next(d for d in listed["departments"] if d["code"] == "food_coord")
        assert food["on_duty"][0]["phone"] == want, who
        roster = user.get("/api/v1/departments/food_coord/shifts")
        if roster.status_code == 200:
            assert roster.get_json()["shifts"][0]["phone"] == want, who
        if who in masked:
            assert "+8613800000001" not in now_on.get_data(as_text=True) + repr(listed)
    for who in ("viewer", "office"):
        alerts = full.get(who) or masked.get(who)
        assert "+8613800000001" not in alerts.get("/api/v1/duty/alerts").get_data(as_text=True)
    # The boards' push goes to every member of the overview and the unit's room: masked there.
    with wiring.sessions() as s:
        pushed = [row[0] for row in s.execute(text("SELECT payload FROM board_events WHERE event = 'duty'"))]
    assert pushed and all("+8613800000001" not in str(p) and "+86138****0001" in str(p) for p in pushed)
