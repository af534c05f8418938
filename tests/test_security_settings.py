"""Production refuses insecure settings at start-up; the local demo starts, says so, and keeps its files private."""
from __future__ import annotations

import os
import re
import stat

import pytest

from notifiers import peer_keys

from app import config as config_module
from app import create_app
from app.demo import DEMO_PASSWORD
from app.migrate import upgrade
from app.security import CSP, InsecureSettings
from incidents.kernel.actors import SystemActor
from incidents.people.users import create_user
from tests.conftest import repo_root

GOOD_KEY = "9f" * 32
PEER_KEY = peer_keys.private_key_to_base64(peer_keys.generate_private_key())


@pytest.fixture
def production(db_url, clock):
    """Build a production app with settings that pass, changed by the keyword arguments."""
    made = []

    def build(**changes):
        settings = {"YINGJI_ENV": "production", "DATABASE_URL": db_url, "CLOCK": clock, "SCHEDULER": "off",
                    "SECRET_KEY": GOOD_KEY, "SESSION_COOKIE_SECURE": True, "SMS_BACKEND": "console",
                    "VOICE_BACKEND": "console", "AUDIT_KEY": GOOD_KEY[::-1], "PII_KEY": GOOD_KEY,
                    "PEER_PRIVATE_KEY": PEER_KEY}
        settings.update(changes)
        app = create_app(settings)
        made.append(app)
        return app

    yield build
    for app in made:
        app.extensions["yingji"].engine.dispose()


def refusal(build, **changes) -> str:
    with pytest.raises(InsecureSettings) as caught:
        build(**changes)
    return str(caught.value)


def test_safe_production_settings_start(production):
    app = production()
    r = app.test_client().get("/login")
    assert r.status_code == 200
    assert "本地演示环境" not in r.get_data(as_text=True)
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")


def test_the_placeholder_key_of_the_example_file_is_refused(production):
    example = (repo_root() / "deploy" / "yingji.env.example").read_text(encoding="utf-8")
    assert f"SECRET_KEY={config_module.PLACEHOLDER_SECRET_KEY}\n" in example
    assert "YINGJI_ENV=production\n" in example
    message = refusal(production, SECRET_KEY=config_module.PLACEHOLDER_SECRET_KEY)
    assert "SECRET_KEY 仍是示例文件中的占位值" in message and "placeholder" in message


@pytest.mark.parametrize("key", ["short", "x" * 31, None, ""])
def test_a_short_or_missing_key_is_refused(production, key):
    message = refusal(production, SECRET_KEY=key)
    assert "SECRET_KEY" in message and ("过短" in message or "未设置" in message)


@pytest.mark.parametrize("key", [None, "short", "change-me-to-64-random-hex-characters"])
def test_a_missing_short_or_placeholder_audit_key_is_named_with_the_rest(production, key):
    message = refusal(production, AUDIT_KEY=key, SESSION_COOKIE_SECURE=False)
    assert "AUDIT_KEY" in message and "SESSION_COOKIE_SECURE=1" in message  # every problem at once
    assert message.count("\n  - ") == 2


def test_insecure_cookies_debug_and_twilio_without_token_are_each_named(production):
    message = refusal(production, SESSION_COOKIE_SECURE=False, DEBUG=True, SMS_BACKEND="twilio",
                      TWILIO_AUTH_TOKEN="...")
    assert "SESSION_COOKIE_SECURE=1" in message and "Secure" in message
    assert "调试模式" in message and "debug" in message
    assert "TWILIO_AUTH_TOKEN" in message and "Twilio" in message
    assert message.count("\n  - ") == 3
    assert "Twilio" not in refusal(production, VOICE_BACKEND="console", DEBUG=True)
    production(SMS_BACKEND="twilio", TWILIO_AUTH_TOKEN="a-real-token-from-the-console")


def test_demo_users_in_the_database_are_refused(production, wiring):
    # `wiring` is a demo-mode app on the same database: the demo's leader, with the public password.
    with wiring.sessions() as s:
        create_user(s, wiring.plan, name="申局长", role="leader", login="leader", password=DEMO_PASSWORD,
                    now=wiring.clock.now(), actor=SystemActor(name="demo"))
        s.commit()
    message = refusal(production)
    assert "演示用户" in message and "leader" in message and "demo users" in message


def test_a_real_user_named_admin_is_not_a_demo_user(production, wiring):
    with wiring.sessions() as s:
        create_user(s, wiring.plan, name="网络安全管理员", role="admin", login="admin",
                    password="a long, private passphrase", now=wiring.clock.now(), actor=SystemActor(name="tests"))
        s.commit()
    production()


def test_make_run_defaults_start_as_a_local_demo(tmp_path, monkeypatch, clock):
    monkeypatch.setattr(config_module, "INSTANCE", tmp_path / "instance")
    defaults = config_module.from_environment({})
    assert defaults["YINGJI_ENV"] != "production" and defaults["SECRET_KEY"] is None
    assert "--host 127.0.0.1" in (repo_root() / "Makefile").read_text()
    url = f"sqlite:///{tmp_path / 'instance' / 'yingji.db'}"
    upgrade(url)
    app = create_app({**defaults, "DATABASE_URL": url, "CLOCK": clock, "SCHEDULER": "off"})
    try:
        assert len(app.config["SECRET_KEY"]) >= 64  # generated, kept in the instance folder
        assert stat.S_IMODE(os.stat(tmp_path / "instance").st_mode) == 0o700
        assert stat.S_IMODE(os.stat(tmp_path / "instance" / "secret_key").st_mode) == 0o600
        assert stat.S_IMODE(os.stat(tmp_path / "instance" / "yingji.db").st_mode) == 0o600
        page = app.test_client().get("/login")
        assert page.status_code == 200 and "本地演示环境，请勿用于生产" in page.get_data(as_text=True)
        assert "Strict-Transport-Security" not in page.headers  # plain http on 127.0.0.1
    finally:
        app.extensions["yingji"].engine.dispose()


def test_sqlite_files_are_created_private(tmp_path):
    old = os.umask(0o022)
    try:
        url = f"sqlite:///{tmp_path / 'new' / 'yingji.db'}"
        upgrade(url)
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "yingji.db").st_mode) == 0o600
    loose = tmp_path / "loose.db"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    app = create_app({"DATABASE_URL": f"sqlite:///{loose}", "SECRET_KEY": "test", "SCHEDULER": "off",
                      "TESTING": True})
    app.extensions["yingji"].engine.dispose()
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600


def test_every_response_carries_the_security_headers(app, users):
    client = app.test_client()
    for url, headers in (("/login", {}), ("/12315", {}), ("/api/v1/plan", {"Authorization": f"Bearer {users['office'].token}"}),
                         ("/nowhere", {}), ("/static/board/board.css", {})):
        r = client.get(url, headers=headers)
        assert r.headers["Content-Security-Policy"] == CSP, url
        assert "frame-ancestors 'none'" in CSP and "'unsafe-inline'" not in CSP
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in r.headers  # the test app's cookies are not Secure


def test_no_template_has_inline_script_or_style():
    for folder in ("app/board/templates", "app/intake/templates"):
        for path in (repo_root() / folder).rglob("*.html"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"\sstyle=|<style|\son[a-z]+=", text), path
            for tag in re.findall(r"<script[^>]*>", text):
                assert "src=" in tag or 'type="application/json"' in tag, (path, tag)


def test_nginx_limits_the_public_doors_and_sends_hsts():
    conf = (repo_root() / "deploy" / "nginx.conf").read_text(encoding="utf-8")
    blocks = dict(re.findall(r"location (=? ?/[\w/.]*) \{(.*?)\n    \}", conf, re.S))
    for path in ("/12315", "/api/v1/complaints", "= /login"):
        assert "limit_req zone=" in blocks[path], path
    assert "limit_req" not in blocks["/"]  # staff pages and the boards are not slowed
    assert re.search(r"limit_conn_zone \$binary_remote_addr", conf) and re.search(r"\n    limit_conn \w+ \d+;", conf)
    assert 'add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;' in conf


def test_production_needs_the_bureaus_signing_key_from_the_environment(production, tmp_path):
    message = refusal(production, PEER_PRIVATE_KEY=None)
    assert "PEER_PRIVATE_KEY" in message and "flask peers new-key" in message
    message = refusal(production, PEER_PRIVATE_KEY="not a key")
    assert "不是可用的 Ed25519 私钥" in message
    missing = tmp_path / "absent.pem"
    assert "不是可用的" in refusal(production, PEER_PRIVATE_KEY=None, PEER_PRIVATE_KEY_FILE=str(missing))
    pem = tmp_path / "peer.pem"
    pem.write_text(peer_keys.private_key_to_pem(peer_keys.generate_private_key()))
    assert production(PEER_PRIVATE_KEY=None, PEER_PRIVATE_KEY_FILE=str(pem)).test_client().get("/login").status_code == 200


def test_production_refuses_documents_mailed_in_clear(production):
    message = refusal(production, SMTP_HOST="mail.example.gov.cn", SMTP_SECURITY="none")
    assert "SMTP_SECURITY=none" in message
