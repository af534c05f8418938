"""Operator commands: `flask --app wsgi users create`, and the token it prints."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import func, select

from app.migrate import upgrade
from incidents.models import ApiToken, AuditEntry, User
from incidents.people.tokens import hash_token
from tests.conftest import repo_root


def users_create(app, *args: str):
    return app.test_cli_runner().invoke(args=["users", "create", *args])


def user_count(wiring) -> int:
    with wiring.sessions() as session:
        return session.scalar(select(func.count()).select_from(User))


def token_of(result) -> str:
    lines = result.output.strip().splitlines()
    assert lines, result.output
    return lines[-1].strip()


@pytest.mark.parametrize("args,role,unit,phone", [
    (["--name", "张三", "--role", "duty_officer", "--department", "food_coord", "--phone", "+8613800000009"],
     "duty_officer", "food_coord", "+8613800000009"),
    (["--name", "李四", "--role", "station", "--department", "chengguan"], "station", "chengguan", None),
    (["--name", "王五", "--role", "leader"], "leader", None, None),
    (["--name", "赵六", "--role", "viewer", "--phone", "+8613912345678"], "viewer", None, "+8613912345678"),
])
def test_users_create_prints_a_working_token(app, wiring, args, role, unit, phone):
    result = users_create(app, *args)
    assert result.exit_code == 0, result.output
    token = token_of(result)
    assert " " not in token and len(token) >= 32

    r = app.test_client().get("/api/v1/plan", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == wiring.plan.version

    with wiring.sessions() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
        assert row is not None and row.token_hash != token
        assert (row.name, row.scope, row.expires_at) == ("default", "write", None)
        user = session.get(User, row.user_id)
        assert (user.role, user.unit, user.phone) == (role, unit, phone)
        created = session.scalar(select(AuditEntry).where(AuditEntry.action == "user.created",
                                                          AuditEntry.entity_id == str(user.id)))
        assert created is not None and created.actor == "system:cli"


def test_each_user_gets_a_different_token(app):
    a = token_of(users_create(app, "--name", "甲", "--role", "viewer"))
    b = token_of(users_create(app, "--name", "乙", "--role", "viewer"))
    assert a != b


@pytest.mark.parametrize("args,words", [
    (["--name", "甲", "--role", "emperor"], ["--role"]),
    (["--name", "甲", "--role", "duty_officer"], ["科室", "department"]),
    (["--name", "甲", "--role", "duty_officer", "--department", "kitchen"], ["科室", "department"]),
    (["--name", "甲", "--role", "duty_officer", "--department", "chengguan"], ["科室", "department"]),
    (["--name", "甲", "--role", "station"], ["所", "station"]),
    (["--name", "甲", "--role", "station", "--department", "food_coord"], ["所", "station"]),
    (["--name", "甲", "--role", "viewer", "--department", "kitchen"], ["kitchen"]),
    (["--name", "甲", "--role", "viewer", "--phone", "13800000000"], ["+86", "phone"]),
    (["--name", "甲", "--role", "viewer", "--phone", "+86 138 0000 0000"], ["+86", "phone"]),
    (["--name", "甲", "--role", "viewer", "--phone", "+86abc"], ["+86", "phone"]),
    (["--name", "  ", "--role", "viewer"], ["姓名", "name"]),
    (["--role", "viewer"], ["--name"]),
])
def test_users_create_refuses_bad_input_clearly(app, wiring, args, words):
    before = user_count(wiring)
    result = users_create(app, *args)
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for word in words:
        assert word in result.output, result.output
    assert user_count(wiring) == before


def test_users_create_refuses_a_duplicate_login(app, wiring):
    assert users_create(app, "--name", "张三", "--role", "viewer").exit_code == 0
    before = user_count(wiring)
    result = users_create(app, "--name", "张三", "--role", "leader")
    assert result.exit_code != 0
    assert "张三" in result.output
    assert user_count(wiring) == before


def test_users_create_through_the_real_entry_point(tmp_path):
    """`flask --app wsgi users create ...` in a shell: the last line of stdout is the token."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    upgrade(url)
    env = {**os.environ, "YINGJI_INSTANCE": str(tmp_path / "instance"), "SECRET_KEY": "x",
           "DATABASE_URL": url, "SCHEDULER": "off"}
    env.pop("PLAN_FILE", None)
    cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "users", "create"]
    ok = subprocess.run(cmd + ["--name", "张三", "--role", "duty_officer", "--department", "food_coord",
                               "--phone", "+8613800000009"],
                        cwd=repo_root(), env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    token = ok.stdout.strip().splitlines()[-1]

    from app import create_app

    application = create_app({"DATABASE_URL": url, "SECRET_KEY": "x", "TESTING": True, "SCHEDULER": "off"})
    try:
        r = application.test_client().get("/api/v1/plan", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
    finally:
        application.extensions["yingji"].engine.dispose()

    bad = subprocess.run(cmd + ["--name", "李四", "--role", "duty_officer", "--department", "kitchen"],
                         cwd=repo_root(), env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0
    assert "department" in bad.stderr and "Traceback" not in bad.stderr


def test_holidays_runs_the_watch_now(app):
    with app.app_context():  # as `flask` gives every command
        result = app.test_cli_runner().invoke(args=["holidays"])
    assert result.exit_code == 0, result.output
    assert "watches opened now:" in result.output
