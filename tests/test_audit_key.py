"""The keyed audit chain: an attacker holding the database credentials cannot rewrite, truncate or wipe it.

Each attack is played as such an attacker would: drop the append-only triggers, change rows, and
recompute the chain (without the key, or with a guessed one) so that the old, unkeyed check passes.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import stat
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select, text

from app import audit_heads, audit_keys, create_app
from app import config as config_module
from app.migrate import upgrade
from app.scheduler import build
from incidents.kernel.actors import SystemActor
from incidents.kernel.db import normalise_url
from incidents.models import AuditEntry
from incidents.people.users import create_user
from incidents.records import audit
from tests.conftest import TABLES, TEST_AUDIT_KEY, scratch_pg_database
from tests.test_audit import drop_append_only, restore_append_only, story  # noqa: F401 - fixture

OTHER_KEY = "another-audit-key-fedcba9876543210fedcba9876543210"


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def head_file(app) -> Path:
    return Path(app.config["AUDIT_HEAD_FILE"])


def rows(wiring) -> list[AuditEntry]:
    with wiring.sessions() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


@pytest.fixture
def attacker(wiring):
    """Database access without the key: the triggers dropped for the test, put back afterwards."""
    drop_append_only(wiring.engine)
    yield wiring.engine
    restore_append_only(wiring.engine)


def forge(engine, entries: list[AuditEntry], *, start: int, how: str, change=None) -> None:
    """Rewrite entries from `start` on and recompute their chain and the head row, without the audit key."""
    prev = audit.GENESIS
    with engine.begin() as conn:
        for e in entries:
            if e.seq < start:
                prev = e.hash
                continue
            fields = dict(seq=e.seq, at=e.at, actor=e.actor, action=e.action, entity=e.entity,
                          entity_id=e.entity_id, incident_id=e.incident_id, data=e.data, prev_hash=prev)
            if change and e.seq == start:
                fields.update(change)
            body = audit.entry_body(**fields)
            version = e.key_version
            if how == "unkeyed":  # the old chain's recipe, under the same key version
                digest = hashlib.sha256(body).hexdigest()
            elif how == "downgrade":  # claim the entries were never keyed
                digest, version = hashlib.sha256(body).hexdigest(), audit.UNKEYED
            else:  # a guessed key
                digest = hmac.new(b"guessed-key", body, hashlib.sha256).hexdigest()
            conn.execute(text("UPDATE audit_entries SET actor = :actor, data = :data, prev_hash = :prev, "
                              "hash = :hash, key_version = :v WHERE seq = :seq"),
                         {"actor": fields["actor"], "data": fields["data"], "prev": prev, "hash": digest,
                          "v": version, "seq": e.seq})
            prev = digest
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


# --- the chain is keyed --------------------------------------------------------------


def test_entries_are_chained_with_an_hmac_and_name_their_key(app, wiring, story):
    keyring = wiring.audit_keys
    entries = rows(wiring)
    assert entries and all(e.key_version == keyring.current.version for e in entries)
    assert keyring.current.version.startswith("hmac-sha256:")
    first = entries[0]
    fields = dict(seq=first.seq, at=first.at, actor=first.actor, action=first.action, entity=first.entity,
                  entity_id=first.entity_id, incident_id=first.incident_id, data=first.data,
                  prev_hash=first.prev_hash)
    body = audit.entry_body(**fields)
    assert first.hash == hmac.new(TEST_AUDIT_KEY.encode(), body, hashlib.sha256).hexdigest()
    assert first.hash != audit.entry_hash(**fields)


def test_the_key_is_nowhere_in_the_database(app, wiring, story):
    with wiring.engine.connect() as conn:
        dump = "".join(str(conn.execute(text(f"SELECT * FROM {t}")).all()) for t in TABLES)
    assert TEST_AUDIT_KEY not in dump
    assert TEST_AUDIT_KEY[:16] not in dump


# --- the three attacks -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["unkeyed", "downgrade", "guessed"])
def test_a_rewritten_entry_with_its_chain_recomputed_is_detected(app, wiring, story, attacker, how):
    assert cli(app, "audit", "export-head").exit_code == 0
    entries = rows(wiring)
    change = {"actor": "leader:someone-else", "data": json.dumps({"tampered": True})}
    forge(attacker, entries, start=5, how=how, change=change)
    with wiring.sessions() as session:
        assert session.get(AuditEntry, 5).actor == "leader:someone-else"
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert "BROKEN: entry 5 " in result.output
    assert ("HMAC does not match the audit key" in result.output if how != "downgrade"
            else "claims to be unkeyed (v0) but follows keyed entry" in result.output)
    # Even without the exported head, the key alone shows it.
    with wiring.sessions() as session:
        assert not audit.verify(session).ok


def test_a_whole_chain_recomputed_as_unkeyed_contradicts_the_exported_head(app, wiring, story, attacker):
    assert cli(app, "audit", "export-head").exit_code == 0
    exported = audit_heads.last(head_file(app), wiring.audit_keys)
    forge(attacker, rows(wiring), start=1, how="downgrade", change={"actor": "leader:someone-else"})
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert f"entry {exported.seq} differs from the head exported at {exported.at.isoformat()}" in result.output


def test_a_truncated_tail_is_detected_against_the_exported_head(app, wiring, story, users, clock, attacker):
    assert cli(app, "audit", "export-head").exit_code == 0
    clock.advance(minutes=5)
    r = users["office"].post(f"/api/v1/incidents/{story}/reports", json={"kind": "progress", "body": "续报"})
    assert r.status_code == 201
    assert cli(app, "audit", "export-head").exit_code == 0
    exported = audit_heads.last(head_file(app), wiring.audit_keys)
    entries = rows(wiring)
    assert exported.seq == entries[-1].seq
    keep = entries[-4]
    with attacker.begin() as conn:  # delete the newest entries and point the head row at what is left
        conn.execute(text("DELETE FROM audit_entries WHERE seq > :s"), {"s": keep.seq})
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": keep.seq, "h": keep.hash})
    with wiring.sessions() as session:  # the chain itself is consistent: only the exported head shows it
        assert audit.verify(session).ok
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert (f"BROKEN: the trail ends at entry {keep.seq} but entry {exported.seq} was exported at "
            f"{exported.at.isoformat()}: entries {keep.seq + 1}–{exported.seq} were deleted (the trail was "
            "truncated)") in result.output
    # The next export refuses to sign the shorter trail.
    before = head_file(app).read_text()
    result = cli(app, "audit", "export-head")
    assert result.exit_code == 1 and f"entry {exported.seq} no longer matches" in result.output
    assert head_file(app).read_text() == before


def test_a_wiped_trail_is_detected(app, wiring, story, attacker):
    assert cli(app, "audit", "export-head").exit_code == 0
    exported = audit_heads.last(head_file(app), wiring.audit_keys)
    with attacker.begin() as conn:
        conn.execute(text("DELETE FROM audit_entries"))
        conn.execute(text("DELETE FROM audit_head"))
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1, result.output
    assert (f"BROKEN: the trail is empty but entry {exported.seq} was exported at {exported.at.isoformat()}: "
            "the audit trail was wiped") in result.output


def test_without_an_exported_head_verify_warns(app, wiring, story):
    result = cli(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert "WARNING: no head exported" in result.output


# --- the head file ------------------------------------------------------------------------


def test_export_appends_signed_lines_to_a_0600_file_and_skips_an_unchanged_head(app, wiring, story, users, clock):
    path = head_file(app)
    path.write_text("")  # an existing file is appended to, never rewritten
    path.chmod(0o600)
    result = cli(app, "audit", "export-head")
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = path.read_text().splitlines()
    seq, digest, at, version, mac = lines[0].split()
    last = rows(wiring)[-1]
    assert (int(seq), digest, at, version) == (last.seq, last.hash, clock.now().isoformat(),
                                              wiring.audit_keys.current.version)
    assert cli(app, "audit", "export-head").output.startswith("head unchanged")
    assert len(path.read_text().splitlines()) == 1
    clock.advance(minutes=1)
    users["office"].post(f"/api/v1/incidents/{story}/reports", json={"kind": "progress", "body": "续报"})
    assert cli(app, "audit", "export-head").exit_code == 0
    assert path.read_text().startswith(lines[0] + "\n") and len(path.read_text().splitlines()) == 2
    assert cli(app, "audit", "verify").exit_code == 0


def test_a_new_head_file_is_created_0600(app, wiring, story):
    path = head_file(app)
    assert not path.exists()
    assert cli(app, "audit", "export-head").exit_code == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_forged_head_line_is_reported(app, wiring, story):
    assert cli(app, "audit", "export-head").exit_code == 0
    last = rows(wiring)[-1]
    with head_file(app).open("a") as f:
        f.write(f"{last.seq + 5} {'ab' * 32} 2026-11-21T00:00:00+00:00 {wiring.audit_keys.current.version} "
                f"{'00' * 32}\n")
    result = cli(app, "audit", "verify")
    assert result.exit_code == 1
    assert "line 2 of the head file" in result.output and "not signed with the audit key" in result.output


def test_the_scheduler_exports_the_head(app, wiring, story):
    sched = build(app, blocking=False)
    job = sched.get_job("yingji-audit-head")
    assert job is not None and job.trigger.interval.total_seconds() == app.config["AUDIT_EXPORT_EVERY"]
    job.func()
    assert audit_heads.last(head_file(app), wiring.audit_keys).seq == rows(wiring)[-1].seq


# --- algorithms and keys ----------------------------------------------------------------------


def test_hmac_sm3_is_rfc_2104_over_sm3_with_or_without_openssl(monkeypatch):
    assert audit_keys.sm3_digest(b"abc").hex() == audit_keys.SM3_ABC  # gmssl, GB/T 32905-2016 example 1
    key = audit_keys.HmacKey("sm3", b"k" * 40)
    pure = audit_keys.hmac_sm3(b"k" * 40, b"abc").hex()
    monkeypatch.setattr(audit_keys, "OPENSSL_SM3", False)
    assert key.mac(b"abc") == pure
    if "sm3" not in hashlib.algorithms_available:
        pytest.skip("this OpenSSL has no SM3 to compare with")
    for secret, message in [(b"k" * 16, b"abc"), (b"x" * 100, "应急指挥".encode() * 40), (b"", b"")]:
        assert audit_keys.hmac_sm3(secret, message).hex() == hmac.new(secret, message, "sm3").hexdigest()
    monkeypatch.setattr(audit_keys, "OPENSSL_SM3", True)
    assert key.mac(b"abc") == pure


def same_db_app(app, clock, **config):
    return create_app({"DATABASE_URL": app.config["DATABASE_URL"], "CLOCK": clock, "TESTING": True,
                       "SECRET_KEY": "test", "SCHEDULER": "off", "AUDIT_HEAD_FILE": app.config["AUDIT_HEAD_FILE"],
                       **config})


def add_user(application, clock, name):
    wiring = application.extensions["yingji"]
    with wiring.sessions() as session:
        create_user(session, wiring.plan, name=name, role="viewer", now=clock.now(), actor=SystemActor(name="tests"))
        session.commit()


def test_sm3_then_a_rotated_key_keep_older_entries_verifiable(app, wiring, clock, story):
    sm3_app = same_db_app(app, clock, AUDIT_KEY=TEST_AUDIT_KEY, AUDIT_HMAC="sm3")
    rotated = same_db_app(app, clock, AUDIT_KEY=OTHER_KEY, AUDIT_RETIRED_KEYS=TEST_AUDIT_KEY)
    forgetful = same_db_app(app, clock, AUDIT_KEY=OTHER_KEY)
    try:
        assert cli(sm3_app, "audit", "export-head").exit_code == 0
        add_user(sm3_app, clock, "国密")
        add_user(rotated, clock, "新钥")
        versions = [e.key_version for e in rows(wiring)]
        sm3_version = sm3_app.extensions["yingji"].audit_keys.current.version
        assert sm3_version.startswith("hmac-sm3:") and versions[-2] == sm3_version
        assert versions[-1] == rotated.extensions["yingji"].audit_keys.current.version != versions[0]
        # The rotated server holds the current key and the retired one: the whole trail verifies.
        result = cli(rotated, "audit", "export-head")
        assert result.exit_code == 0, result.output
        result = cli(rotated, "audit", "verify")
        assert result.exit_code == 0, result.output
        assert "matches 2 exported heads" in result.output
        result = cli(forgetful, "audit", "verify")  # the old key is needed to verify the old entries
        assert result.exit_code == 1
        assert f"chained with key {versions[0]!r}, which this server does not hold" in result.output
    finally:
        for application in (sm3_app, rotated, forgetful):
            application.extensions["yingji"].engine.dispose()


@pytest.mark.parametrize("config, message", [
    ({"AUDIT_KEY": "short"}, "AUDIT_KEY must be at least 32 characters"),
    ({"AUDIT_KEY": "change-me-to-64-random-hex-characters-audit"}, "AUDIT_KEY is still the placeholder"),
    ({"AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_RETIRED_KEYS": "short"}, "AUDIT_RETIRED_KEYS must be at least 32"),
    ({"AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_HMAC": "md5"}, "AUDIT_HMAC must be one of sha256, sm3"),
])
def test_unusable_audit_settings_refuse_to_start(config, message):
    with pytest.raises(audit_keys.AuditKeyError) as info:
        audit_keys.keyring_from(config)
    assert message in str(info.value) and info.value.message_zh


def test_the_embedded_key_is_generated_once_in_the_instance_folder_0600(tmp_path, monkeypatch):
    monkeypatch.delenv("AUDIT_KEY", raising=False)
    monkeypatch.setattr(config_module, "INSTANCE", tmp_path / "instance")
    key = config_module.audit_key()
    path = tmp_path / "instance" / "audit_key"
    assert path.read_text() == key and len(key) == 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert config_module.audit_key() == key
    monkeypatch.setenv("AUDIT_KEY", OTHER_KEY)
    assert config_module.audit_key() == OTHER_KEY


# --- migration 0011: the unkeyed entries before it -----------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with scratch_pg_database("yingji_audit0011") as url:
        yield url


def test_entries_before_0011_stay_v0_and_keyed_entries_follow_them(fresh_url, clock, tmp_path):
    upgrade(fresh_url, "0009")
    engine = create_engine(normalise_url(fresh_url))
    prev = audit.GENESIS
    try:
        with engine.begin() as conn:  # what the application wrote before the key: plain SHA-256
            for seq in (1, 2, 3):
                fields = dict(seq=seq, at=clock.now(), actor="system:old", action="user.created", entity="user",
                              entity_id=str(seq), incident_id=None, data="{}", prev_hash=prev)
                prev = audit.entry_hash(**fields)
                conn.execute(text("INSERT INTO audit_entries (seq, at, actor, action, entity, entity_id, "
                                  "incident_id, data, prev_hash, hash) VALUES (:seq, :at, :actor, :action, :entity, "
                                  ":entity_id, :incident_id, :data, :prev_hash, :hash)"), {**fields, "hash": prev})
            conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 3, :h)"), {"h": prev})
        upgrade(fresh_url)
        application = create_app({"DATABASE_URL": fresh_url, "CLOCK": clock, "TESTING": True, "SECRET_KEY": "t",
                                  "SCHEDULER": "off", "AUDIT_KEY": TEST_AUDIT_KEY,
                                  "AUDIT_HEAD_FILE": str(tmp_path / "heads.log")})
        try:
            add_user(application, clock, "新用户")
            wiring = application.extensions["yingji"]
            entries = rows(wiring)
            assert [e.key_version for e in entries] == ["v0"] * 3 + [wiring.audit_keys.current.version]
            assert entries[3].prev_hash == entries[2].hash
            result = cli(application, "audit", "verify")
            assert result.exit_code == 0, result.output
            assert "1 keyed with the audit key, 3 unkeyed v0" in result.output
            # The old entries can still be recomputed without the key, but the first keyed entry pins them.
            drop_append_only(engine)
            forge(engine, entries[:3], start=2, how="unkeyed", change={"actor": "system:forged"})
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": entries[3].hash})
            result = cli(application, "audit", "verify")
            assert result.exit_code == 1
            assert "BROKEN: entry 4 does not follow the entry before it" in result.output
        finally:
            application.extensions["yingji"].engine.dispose()
    finally:
        engine.dispose()


def test_the_app_refuses_to_start_with_a_short_audit_key(tmp_path):
    with pytest.raises(audit_keys.AuditKeyError) as info:
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "t", "TESTING": True,
                    "SCHEDULER": "off", "AUDIT_KEY": "too-short"})
    assert "AUDIT_KEY 至少需要 32 个字符" in str(info.value)
